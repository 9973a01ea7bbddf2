"""On-demand maintenance jobs (get_certs, freshclam, sa-update): settings, runner, lock, history, CLI.

The public pieces:

- `console.jobs.spec.JobSpec`: a job as the settings describe it (`Settings.jobs` maps names to them).
- `console.jobs.runner.run_job(settings, name, on_output=..., cancel=...)`: run a job through the
  dispatcher (action `job.run`: refused when read-only, audited), streaming its output; returns a
  `RunRecord`. `dispatch(settings, "job.run", NAME)` runs it too, with nothing streamed, and returns
  the outcome's sentence (raising ActionFailed when the run failed).
- `console.jobs.history.load_history(settings)`: the last runs of each job, kept next to the audit log.

This package imports only the standard library at start-up; the runner loads when a job runs.
"""
