# GoogleTest unit tests, run by lit so that one summary covers the whole suite.
import os
import lit.formats

config.name = "quantc-unit"
config.test_format = lit.formats.GoogleTest(".", "Tests")
config.test_source_root = os.path.join(config.quantc_obj_root, "test", "unit")
config.test_exec_root = config.test_source_root
