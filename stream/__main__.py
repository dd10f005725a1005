"""`python -m stream`: the segstream command."""

from stream.cli.main import main

if __name__ == "__main__":
    main()
