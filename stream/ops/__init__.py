"""Operations: the local dev broker, metrics, lag, health."""
