"""Ray as a second executor: batches computed by actors on any node of a Ray cluster.

Ray is an optional dependency (``pip install "parallel_audio[ray]"``), imported only when an
executor starts or a dataset is built; importing this package does not import it.
"""

from parallel_audio.ray.executor import RayExecutor

__all__ = ["RayExecutor"]
