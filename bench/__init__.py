# Imported first, as the CLI imports it first: it picks pyarrow's memory pool, which has to
# happen before pyarrow loads, or the benchmarks would measure a process users never run.
import pipelines  # noqa: F401
