"""``d2l-grade grade --scheduler``: a real ``dask.distributed.LocalCluster`` with process workers
grades the mini kit's class with the scores of local grading; its own file, so that the test
runner puts it on a core of its own."""

from __future__ import annotations

import pytest

pytest.importorskip("nbgrader")
# dask[distributed] comes with nbgrader in the `course` extra: missing, it is a broken install, not a skip
import distributed  # noqa: E402

from autograder import nbgrader_driver as D  # noqa: E402

from test_nbgrader_flow import A, make_kit  # noqa: E402
from test_scale import cli_json, gradebook_rows, mini_course, scores_of  # noqa: E402


def test_a_dask_local_cluster_gives_the_local_scores(tmp_path):
    kit = make_kit(tmp_path / "kit")
    course, expected = mini_course(kit, tmp_path / "course", 6)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        run = D.grade_class(course, A, kit=kit, scheduler=cluster.scheduler_address)
    assert run.workers == 2 and sorted(run.graded) == sorted(expected)
    plain = {s: r.exercises_dict() for s, r in run.results.items()}
    assert scores_of(plain) == expected
    assert all(ok for ok, _ in run.recorded.values())
    assert sorted(gradebook_rows(course)) == sorted((s, A) for s in expected)
    # the same class graded here, one sandbox, through the command: the same results
    assert cli_json(course, "--jobs", "1", "--force") == plain
