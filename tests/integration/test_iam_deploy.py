"""The deploy's IAM, end to end: a grant missing from terraform/ fails the step that needs
it with Google's 403, and the message is dead-lettered with that reason, replayable once
the grant is back (docs/DEPLOY.md, What the local stack proves)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from stkpi.config import load_settings
from stkpi.context import PipelineContext
from stkpi.deadletters import list_dead_letters
from stkpi.messages import PlanMessage
from stkpi_tools.localstack import Stack
from stkpi_tools.localstack.provision import patched_environ
from stkpi_tools.terraform.topology import terraform_dir

pytestmark = pytest.mark.integration

PLAN_BUCKET_GRANT = '    plan_windows = "roles/storage.objectUser"\n'


def test_a_missing_grant_fails_the_step_with_403_and_dead_letters_it_with_the_reason(
    tmp_path: Path, bq_emulator, gcs_emulator, pubsub_emulator, monkeypatch
) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(terraform_dir(), copy, ignore=shutil.ignore_patterns(".terraform", ".build"))
    iam = copy / "iam.tf"
    text = iam.read_text()
    assert text.count(PLAN_BUCKET_GRANT) == 1, "iam.tf changed: update this test's edit"
    iam.write_text(text.replace(PLAN_BUCKET_GRANT, ""))  # plan_windows loses the bucket
    monkeypatch.setenv("STKPI_TERRAFORM_DIR", str(copy))
    stack = Stack(
        tmp_path / "stack",
        sim_args={"scale": 0.001, "seed": 5},
        tf_variables={"name_prefix": "nogrant-"},
        reuse={
            "gcs": gcs_emulator.service,
            "bigquery": bq_emulator.service,
            "pubsub": pubsub_emulator.service,
        },
    )
    with stack as info, patched_environ(info.env()):  # as the operator, through the gate
        ctx = PipelineContext(load_settings(info.env()))
        ctx.bus.publish(ctx.settings.topic_plan, PlanMessage(run_type="daily", run_id="nogrant"))
        deadline = time.monotonic() + 60
        while not (letters := list_dead_letters(ctx.settings)):
            assert time.monotonic() < deadline, "the refused plan was never dead-lettered"
            time.sleep(1)
    (letter,) = letters
    assert letter.topic == "nogrant-st-plan"
    assert letter.attributes["step"] == "plan_windows"
    # Google's refusal, naming the permission the missing role would have given
    assert "403" in letter.reason and "storage.objects.create" in letter.reason
    assert not letter.permanent  # replayable once the grant is restored
    assert b'"run_id":"nogrant"' in letter.data
