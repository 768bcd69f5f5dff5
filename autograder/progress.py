"""A progress bar for grading a class (rich): counts, rate and time left; a student whose grading
went wrong shows at once as a line above the bar.  Off unless asked for (the CLI asks only when
stdout is a terminal and the output is not ``--json``)."""

from __future__ import annotations


class GradingProgress:
    """``on_begin`` / ``on_result`` for :func:`autograder.nbgrader_driver.grade_class`."""

    def __init__(self, label: str, enabled: bool = True, console=None):
        self.label = label
        self.enabled = enabled
        self._console = console
        self._progress = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=self._console or Console(), transient=False)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def on_begin(self, total: int, done: int) -> None:
        if self._progress is None:
            return
        self._task = self._progress.add_task(self.label, total=total, completed=done, rate="")
        if done:
            self._progress.console.print(f"  {done} of {total} already graded and recorded (kept; --force "
                                         "grades again)", markup=False, highlight=False)

    def on_result(self, student: str, result, ok: bool, text: str) -> None:
        if self._progress is None or self._task is None:
            return
        for line in problem_lines(student, result, ok, text):
            self._progress.console.print(line, markup=False, highlight=False)
        task = self._progress.tasks[self._task]
        self._progress.advance(self._task)
        speed = task.speed
        rate = f"{speed * 60:.0f}/min" if speed else ""
        self._progress.update(self._task, rate=rate)


def problem_lines(student: str, result, ok: bool, text: str) -> list[str]:
    """What an instructor must see at once about one student (nothing when all went well)."""
    lines = []
    if not ok:
        lines.append(f"✗ {student}: not recorded: {(text or 'unknown error').splitlines()[0][:300]}")
    elif text:
        lines.append(f"! {student}: {text.splitlines()[0][:300]}")
    if result is not None:
        broken = result.grader_errors()
        if broken:
            lines.append(f"✗ {student}: {len(broken)} check(s) broke in the hidden tests "
                         f"({broken[0][:200]})")
        held = result.withheld()
        if held and not broken:
            lines.append(f"! {student}: {', '.join(held)} left for grading by hand")
    return lines
