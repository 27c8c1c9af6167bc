"""The batch ledger is in ``records.sqlite`` itself the moment a batch id is known, not only in its ``-wal``."""

from __future__ import annotations

import shutil
import sqlite3

from distilleval.run.batch_ledger import BatchLedger, BatchRequestRow
from distilleval.run.store import RunStore


def test_a_copy_of_the_file_alone_knows_the_job_and_its_batch_id(tmp_path):
    store = RunStore(tmp_path / "run")  # held open, as in a process that is about to be killed
    store.set_meta("spec_sha256", "abc")
    ledger = BatchLedger(store.path)
    job = ledger.add_job("teacher", "openai", "token-1", [BatchRequestRow("c0-0", "i0", 0, "key0")])
    shutil.copyfile(store.path, tmp_path / "after-add.sqlite")  # no -wal copied
    ledger.set_batch_id(job, "batch_123")
    shutil.copyfile(store.path, tmp_path / "after-id.sqlite")
    assert (tmp_path / "run" / "records.sqlite-wal").exists()  # still WAL mode, other connections open

    with sqlite3.connect(tmp_path / "after-add.sqlite") as copy:
        assert copy.execute("SELECT job_token, batch_id FROM batch_jobs").fetchall() == [("token-1", None)]
        assert copy.execute("SELECT custom_id, item_id FROM batch_requests").fetchall() == [("c0-0", "i0")]
    with sqlite3.connect(tmp_path / "after-id.sqlite") as copy:
        assert copy.execute("SELECT batch_id FROM batch_jobs").fetchall() == [("batch_123",)]
        assert copy.execute("SELECT value FROM meta WHERE key = 'spec_sha256'").fetchall() == [('"abc"',)]
    ledger.close()
    store.close()
