"""The API's routes, one module per resource; each is a few lines that call the snapshot or a domain package."""
