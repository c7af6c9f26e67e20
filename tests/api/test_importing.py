"""``import --change``: Dockerfile instructions through the Dockerfile parser and the builder's dispatch."""

from __future__ import annotations

import io
import json

import pytest

from layerlab.engine.api.importing import apply_changes, import_image
from layerlab.engine.errors import DockerfileError, UsageError
from layerlab.engine.store import Store
from tests.transports.helpers import layer_tar


def test_changes_mean_what_they_mean_in_a_dockerfile() -> None:
    config = apply_changes({}, [
        'CMD ["/bin/sh", "-c", "echo hi"]', "ENTRYPOINT /init", "ENV A=1 B=two", "ENV C three words",
        "EXPOSE 80 53/UDP", 'LABEL org.example="x y"', "USER nobody", "WORKDIR /srv", "VOLUME /data",
        "STOPSIGNAL SIGTERM", "ONBUILD RUN true", "ENV D=${A}-$B", "WORKDIR sub",
        "HEALTHCHECK --interval=5s CMD true"])
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]  # an ENTRYPOINT keeps a CMD set before it, as in a stage
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/init"]
    assert config["Env"] == ["A=1", "B=two", "C=three words", "D=1-two"]
    # EXPOSE as the builder does it: protocols lower-cased, tcp by default
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["Labels"] == {"org.example": "x y"}
    assert (config["User"], config["WorkingDir"], config["StopSignal"]) == ("nobody", "/srv/sub", "SIGTERM")
    assert config["Volumes"] == {"/data": {}} and config["OnBuild"] == ["RUN true"]
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000}


def test_bad_changes_name_the_change() -> None:
    with pytest.raises(UsageError, match="RUN is not a valid change command"):
        apply_changes({}, ["RUN rm -rf /"])
    with pytest.raises(DockerfileError, match="--change"):
        apply_changes({}, ["ENV"])


def test_import_image_tags_and_keeps_the_changes(tmp_path) -> None:
    with Store.open(tmp_path / "root") as store:
        stored = import_image(store, io.BytesIO(layer_tar({"a": b"1"})), reference="imported:1",
                              changes=["EXPOSE 8080/TCP"], message="first import")
        assert store.image("imported:1").id == stored.id
        config = json.loads(stored.config_bytes())
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert config["comment"] == "first import"
