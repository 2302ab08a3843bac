"""`rq cron workers.cron_config`: the minute tick, on a queue of its own so that a message
backlog never delays it. Several cron processes may run: the tick claims each slot once."""

from rq import cron

from workers.schedule import tick_now

cron.register(tick_now, "tick", cron="* * * * *", job_timeout=300, result_ttl=0)
