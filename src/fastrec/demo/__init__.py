"""`python -m fastrec demo`: the frame core on a private Xvfb screen."""
