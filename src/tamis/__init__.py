"""tamis: a fine sieve for web text.

    import tamis
    result = tamis.run(["crawl/"], "out/", preset="fineweb")
    doc = tamis.clean(text)          # one document through the `clean` preset's steps
    print(doc.text, doc.edits)
"""

__version__ = "0.1.0"

# Import the `tamis.clean` package (the span cleaners) before binding the function `clean`:
# importing a subpackage sets it as an attribute of its parent, and done later (when the step
# registry loads it) that would replace the function with the package.
import tamis.clean as _cleaners  # noqa: F401
from tamis.api import clean
from tamis.config import Config, ConfigError, load_config
from tamis.document import Change, Document, Edit, Removal
from tamis.runner import RunError, RunResult, run
from tamis.step import Decision, GlobalStep, Step, StepOptions, register

__all__ = ["Change", "Config", "ConfigError", "Decision", "Document", "Edit", "GlobalStep",
           "Removal", "RunError", "RunResult", "Step", "StepOptions", "__version__", "clean",
           "load_config", "register", "run"]
