"""What students can install never contains the solutions or the hidden tests."""

import subprocess
import sys
import zipfile


def test_wheel_holds_the_autograder_package_only(tmp_path, kit):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(kit.root), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("d2l_autograder-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n == "autograder/public/test_softmax_regression.py" for n in names)
    assert all(n.startswith(("autograder/", "d2l_autograder-")) for n in names), names
    solution_text = kit.solution_module("softmax_regression").read_text()
    hidden_text = kit.hidden_suite("softmax_regression").read_text()
    with zipfile.ZipFile(wheel) as zf:
        for name in names:
            data = zf.read(name).decode("utf-8", "replace")
            assert data != solution_text and data != hidden_text, name
