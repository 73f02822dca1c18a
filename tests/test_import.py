"""Without its compiled core fastrec refuses to import, with a message that says what to do."""

import subprocess
import sys
import textwrap


def test_missing_extension_fails_loudly():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "fastrec._ext._convert":
                    raise ImportError("No module named 'fastrec._ext._convert'")
        sys.meta_path.insert(0, Block())
        import fastrec
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "fastrec's compiled core is missing" in proc.stderr
    assert "pip install" in proc.stderr


def test_public_api_is_importable():
    import fastrec

    for name in fastrec.__all__:
        assert hasattr(fastrec, name), name
