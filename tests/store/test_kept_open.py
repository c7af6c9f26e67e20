"""``dbfile.kept_open``: a held connection spares closes their checkpoint and log removal, and blocks no one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from layerlab.engine.dbfile import kept_open, open_shared_db, write_transaction


def _made(path: Path) -> Path:
    db = open_shared_db(path)
    with write_transaction(db):
        db.execute("CREATE TABLE rows (value TEXT)")
    db.close()
    return path


def _write_and_close(path: Path, value: str) -> None:
    db = open_shared_db(path)
    with write_transaction(db):
        db.execute("INSERT INTO rows VALUES (?)", (value,))
    db.close()


def test_a_close_inside_keeps_the_log_and_the_last_close_removes_it(tmp_path):
    path = _made(tmp_path / "cache.db")
    log = Path(f"{path}-wal")
    _write_and_close(path, "before")
    assert not log.exists()  # the last connection's close checkpointed and removed it
    with kept_open(path):
        _write_and_close(path, "during")
        assert log.exists() and log.stat().st_size > 0   # not the last close: nothing checkpointed
    assert not log.exists()
    db = open_shared_db(path)
    assert [row[0] for row in db.execute("SELECT value FROM rows")] == ["before", "during"]
    db.close()


def test_a_missing_database_is_not_created(tmp_path):
    with kept_open(tmp_path / "absent.db"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_another_process_writes_and_checkpoints_while_one_is_held(tmp_path):
    path = _made(tmp_path / "cache.db")
    with kept_open(path):
        script = ("import sqlite3, sys; db = sqlite3.connect(sys.argv[1], timeout=0.5);"
                  "db.execute('INSERT INTO rows VALUES (1)'); db.commit();"
                  "print(db.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()[0])")
        done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "0"  # 0: the checkpoint was not blocked
