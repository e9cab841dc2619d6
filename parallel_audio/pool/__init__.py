"""The worker pool: computes tasks in workers, a bounded step ahead of their consumer.

The pool knows nothing of audio, batches or iterators: it runs a picklable callable on
picklable tasks and returns the results, in the order they are asked for. Its parts, each
with one job:

- :mod:`~parallel_audio.pool.options`: the pool's options, one frozen object;
- :mod:`~parallel_audio.pool.executor`: the small interface every way of running workers
  implements (threads, local processes, a cluster), and what it reports;
- :mod:`~parallel_audio.pool.messages`: the messages between a worker process and its parent;
- :mod:`~parallel_audio.pool.transport`: how a result's arrays travel back (shared memory,
  or the pipe);
- :mod:`~parallel_audio.pool.worker_loop`: a worker process's main loop;
- :mod:`~parallel_audio.pool.thread_backend` and :mod:`~parallel_audio.pool.process_backend`:
  the two local executors;
- :mod:`~parallel_audio.pool.scheduler`: the prefetch window, the order results are handed out
  in, and what to do when workers die.

This module imports none of them, so that importing one part imports only what it needs.
"""
