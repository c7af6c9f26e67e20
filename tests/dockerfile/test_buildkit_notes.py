"""BuildKit's view: the lines BuildKit would build differently, read from the Dockerfile alone."""

from __future__ import annotations

from layerlab.engine.api.building import buildkit_notes

DOCKERFILE = """\
FROM busybox AS base
WORKDIR /as-root
USER app
WORKDIR /srv
VOLUME /data /cache
RUN echo hi > /data/x
FROM base
RUN true
USER root
WORKDIR /again-root
FROM busybox
RUN echo no volume here
"""


def test_notes_name_the_lines_buildkit_builds_differently():
    notes = buildkit_notes(DOCKERFILE)
    assert notes == {
        1: "BuildKit: no intermediate image per step",
        4: "BuildKit: dirs it creates belong to USER app, not root",
        6: "BuildKit: keeps what it writes under VOLUME /data, /cache",
        8: "BuildKit: keeps what it writes under VOLUME /data, /cache",  # a stage FROM base inherits its VOLUMEs
    }


def test_a_dockerfile_that_does_not_parse_has_no_notes():
    assert buildkit_notes("FROM busybox\nFOO bar\n") == {}
