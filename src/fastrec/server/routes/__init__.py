"""The admin server's routes, one module per area; :mod:`fastrec.server.app` mounts them."""
