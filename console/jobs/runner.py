"""Run a maintenance job through the dispatcher: locked, streamed, followed up, kept in the history.

`run_job(settings, name, on_output=..., cancel=...)` is what the Jobs screen and `mailconsole run` call;
it dispatches the action `job.run`, so read-only mode refuses it (exit 3) and the audit log has it.
`dispatch(settings, "job.run", NAME)` runs a job the same way without streaming (what a health fix
does) and returns the run's sentence, or raises ActionFailed with it when the run failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from console.actions import ActionContext, dispatch
from console.errors import ActionFailed, UserError
from console.jobs.history import TAIL_LINES, RunRecord, append_history
from console.jobs.lock import acquire
from console.jobs.process import Cancel, OutputLine, ProcessResult, run_process
from console.jobs.spec import JobSpec
from console.settings import Settings

OnOutput = Callable[[list[OutputLine]], None]


class JobContext(ActionContext):
    """The dispatcher context of a run: where its lines go, its cancel switch, and its record."""

    def __init__(
        self, settings: Settings, on_output: OnOutput | None = None, cancel: Cancel | None = None
    ) -> None:
        super().__init__(settings)
        self.on_output = on_output
        self.cancel = cancel or Cancel()
        self.record: RunRecord | None = None


def run_job(
    settings: Settings, name: str, on_output: OnOutput | None = None, cancel: Cancel | None = None
) -> RunRecord:
    """Run job `name` to its end and return its record (a failed run too).

    Raises ReadOnlyRefused (read-only mode), JobBusy (already running), UserError (no such job).
    """
    ctx = JobContext(settings, on_output, cancel)
    try:
        dispatch(settings, "job.run", name, {}, context=ctx)
    except ActionFailed:
        if ctx.record is None:
            raise
    assert ctx.record is not None
    return ctx.record


def run_action(ctx: ActionContext, target: str, params: Mapping[str, str]) -> str:
    """The `job.run` handler: run the job, return its sentence, raise ActionFailed when it failed."""
    spec = ctx.settings.jobs.get(target)
    if spec is None:
        known = ", ".join(ctx.settings.jobs) or "none"
        raise UserError(f"there is no job named {target!r} (jobs: {known})")
    job_ctx = ctx if isinstance(ctx, JobContext) else JobContext(ctx.settings)
    record = execute(job_ctx, target, spec)
    if isinstance(ctx, JobContext):
        ctx.record = record
    if not record.ok:
        raise ActionFailed(record.sentence)
    return record.sentence


def execute(ctx: JobContext, name: str, spec: JobSpec) -> RunRecord:
    """Take the job's lock, run it, run its follow-ups after exit 0, and keep the record."""
    settings = ctx.settings
    with acquire(settings, name):
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        result = run_process(
            spec.argv, timeout=spec.timeout, on_output=ctx.on_output, cancel=ctx.cancel
        )
        outcome, sentence = judge(name, spec, result)
        then: list[str] = []
        if outcome == "ok" and result.exit_code == 0:
            for step in spec.then:
                try:
                    then.append(
                        dispatch(settings, step.action, step.program, step.params, context=ctx)
                    )
                except UserError as exc:
                    outcome = "failed"
                    then.append(f"'{step}' failed: {exc}")
                    sentence += f", but '{step}' failed: {exc}"
                    break
            else:
                if then:
                    sentence += "; then " + " ".join(then)
        record = RunRecord(
            job=name,
            argv=list(spec.argv),
            operator=settings.resolved_operator(),
            started=started,
            duration_s=round(result.duration, 3),
            outcome=outcome,
            exit_code=result.exit_code,
            signal=result.signal,
            sentence=sentence,
            then=then,
            lines=result.output.total,
            tail=[[line.stream, line.text] for line in list(result.output.lines)[-TAIL_LINES:]],
        )
        try:
            append_history(settings, record)
        except OSError as exc:
            record.sentence += f" (the history file could not be written: {exc.strerror})"
    return record


def judge(name: str, spec: JobSpec, result: ProcessResult) -> tuple[str, str]:
    """The outcome (ok, failed, cancelled, timeout) and the sentence that says it."""
    took = f"{result.duration:.1f} s"
    if result.start_error:
        return "failed", f"{name} did not start: {result.start_error}"
    if result.cancelled:
        return "cancelled", f"{name} was cancelled after {took}"
    if result.timed_out:
        return (
            "timeout",
            f"{name} ran longer than its timeout of {spec.timeout:g} s and was stopped",
        )
    if result.exit_code is None:
        return "failed", f"{name} was killed by {result.signal} after {took}"
    code = result.exit_code
    outcome = "ok" if code in spec.ok_codes else "failed"
    return outcome, f"{name}: {spec.meaning(code)} (exit {code}, {took})"
