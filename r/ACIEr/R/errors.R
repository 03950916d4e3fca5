# Errors of the engine as R conditions (no Python tracebacks).

# An ACIE condition: `classes` (most specific first), then acie_error, error, condition.
.acie_condition <- function(message, classes = character(), call = NULL, ...) {
  structure(
    class = unique(c(classes, "acie_error", "error", "condition")),
    list(message = message, call = call, ...))
}

# CamelCase Python class name -> acie_snake_case R class.
.r_class <- function(py_name) {
  snake <- gsub("([a-z0-9])([A-Z])", "\\1_\\2", py_name)
  snake <- tolower(gsub("([A-Z]+)([A-Z][a-z])", "\\1_\\2", snake))
  if (identical(snake, "acie_error")) snake else paste0("acie_", snake)
}

# The R condition of a Python exception raised by the engine.
.condition_from_python <- function(err, call) {
  last <- reticulate::py_last_error()
  exc <- if (!is.null(last)) attr(last, "exception") else NULL
  if (is.null(exc)) {  # not a Python exception: keep R's own
    return(err)
  }
  type <- last$type
  message <- last$value
  classes <- tryCatch({
    builtins <- reticulate::import_builtins(convert = FALSE)
    mro <- builtins$list(exc$`__class__`$`__mro__`)
    found <- character()
    for (i in seq_len(reticulate::py_len(mro)) - 1L) {
      cls <- mro$`__getitem__`(i)
      module <- reticulate::py_to_r(cls$`__module__`)
      if (module %in% c("acie.errors", "acie")) {
        found <- c(found, .r_class(reticulate::py_to_r(cls$`__name__`)))
      }
    }
    found
  }, error = function(e) character())
  if (length(classes) == 0) {
    # not an ACIE error: TimeoutError of a client deadline, or a bug in the engine
    classes <- if (identical(type, "TimeoutError")) "acie_timeout_error" else "acie_engine_error"
    message <- sprintf("%s: %s", type, message)
  }
  field <- function(name) {
    tryCatch({
      value <- reticulate::py_get_attr(exc, name, silent = TRUE)
      if (is.null(value)) NULL else reticulate::py_to_r(value)
    }, error = function(e) NULL)
  }
  .acie_condition(message, classes, call = call, python_type = type,
                  code = field("code"), trace_id = field("trace_id"))
}

# Evaluate `expr` (calls into Python); a Python exception becomes an ACIE condition.
.engine_call <- function(expr) {
  call <- sys.call(-1)
  if (reticulate::py_available()) reticulate::py_clear_last_error()
  tryCatch(expr, error = function(e) {
    if (inherits(e, "acie_error")) stop(e)
    stop(.condition_from_python(e, call))
  })
}
