"""The feedback page a student reads.

:class:`ClearHiddenTests` takes nbgrader's place in the course's feedback pipeline (see the course's
``nbgrader_config.py``, :mod:`autograder.course`).
"""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests as _NbgraderClearHiddenTests
from traitlets import List


class ClearHiddenTests(_NbgraderClearHiddenTests):
    """nbgrader's ``ClearHiddenTests``, quiet in an HTML exporter.

    The HTML exporter configures ``NbConvertBase.display_data_priority`` for every preprocessor;
    nbgrader's preprocessors declare that trait without ``config=True``, so nbgrader's own class
    logs "Config option `display_data_priority` not recognized" on every feedback page (stock
    nbgrader never puts it in a feedback pipeline).  Here the trait takes the setting (unused), as
    nbgrader's ``GetGrades`` declares it.
    """

    display_data_priority = List(['text/html', 'application/pdf', 'text/latex', 'image/svg+xml',
                                  'image/png', 'image/jpeg', 'text/plain']).tag(config=True)
