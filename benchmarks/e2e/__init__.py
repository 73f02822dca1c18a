"""End-to-end recorder comparison (issue 3): fastrec against ffmpeg x11grab and the naive
mss + cv2.VideoWriter loop on the same scripted Xvfb desktop.  Run it with
``python scripts/bench_e2e.py``; the helpers here are not tests."""
