"""Redis materialisation and the query API."""
