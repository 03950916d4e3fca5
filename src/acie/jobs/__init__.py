"""Jobs: the state machine, two queue backends (SQL lease table, Redis Streams), a worker."""

from acie.jobs.job import Job
from acie.jobs.queue import JobQueue, open_job_queue
from acie.jobs.redis_queue import RedisJobQueue
from acie.jobs.sql_queue import SQLiteJobQueue
from acie.jobs.state import ALLOWED_TRANSITIONS, TERMINAL_STATES, JobState
from acie.jobs.table import DEAD_LETTER_PREFIX
from acie.jobs.worker import Worker, load_handler

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEAD_LETTER_PREFIX",
    "TERMINAL_STATES",
    "Job",
    "JobQueue",
    "JobState",
    "RedisJobQueue",
    "SQLiteJobQueue",
    "Worker",
    "load_handler",
    "open_job_queue",
]
