# The connection to the Python engine: which Python, local or served mode.

.acie <- new.env(parent = emptyenv())

#' Find the Python of the ACIE project
#'
#' The interpreter ACIEr binds reticulate to, in this order: the option
#' `ACIEr.python`, the environment variable `ACIE_PYTHON`, `.venv/bin/python` in
#' the working directory or the nearest parent directory that has one next to a
#' `pyproject.toml` (the project's virtualenv), then the Python next to an `acie`
#' command on the `PATH` (an activated virtualenv).
#'
#' @return The path of the interpreter, or `NULL` when none is found.
#' @export
#' @examples
#' find_acie_python()
find_acie_python <- function() {
  given <- getOption("ACIEr.python", Sys.getenv("ACIE_PYTHON", ""))
  if (nzchar(given)) {
    return(given)
  }
  dir <- normalizePath(getwd(), mustWork = FALSE)
  repeat {
    candidate <- file.path(dir, ".venv", "bin", "python")
    if (file.exists(candidate) && file.exists(file.path(dir, "pyproject.toml"))) {
      return(candidate)
    }
    parent <- dirname(dir)
    if (identical(parent, dir)) break
    dir <- parent
  }
  acie <- Sys.which("acie")
  if (nzchar(acie)) {
    candidate <- file.path(dirname(acie), "python")
    if (file.exists(candidate)) return(candidate)
  }
  NULL
}

#' Whether the ACIE engine can be reached from this R session
#'
#' @return `TRUE` when a Python with the `acie` package is found (see
#'   [find_acie_python()]) and reticulate can bind to it.
#' @export
#' @examples
#' engine_available()
engine_available <- function() {
  ok <- tryCatch({
    .bind_python(NULL)
    reticulate::py_module_available("acie")
  }, error = function(e) FALSE)
  isTRUE(ok)
}

# Bind reticulate to the project's Python once (reticulate cannot switch later).
.bind_python <- function(python) {
  if (!is.null(.acie$python)) {
    if (!is.null(python) && !identical(python, .acie$python)) {
      stop(.acie_condition(
        sprintf(paste0("this R session already uses the Python %s; restart R to use %s ",
                       "(reticulate binds one interpreter per session)"),
                .acie$python, python),
        "acie_configuration_error"))
    }
    return(invisible(.acie$python))
  }
  python <- if (is.null(python)) find_acie_python() else python
  if (is.null(python) || !file.exists(python)) {
    stop(.acie_condition(
      paste0("no Python with the acie package found: expected ACIE_PYTHON, ",
             "options(ACIEr.python = ...), or a .venv/bin/python in the working directory ",
             "or a parent of it (run `make setup` in the project); got ",
             if (is.null(python)) "nothing" else python),
      "acie_configuration_error"))
  }
  # an absolute path without resolving the virtualenv's symlink to the base interpreter
  python <- file.path(normalizePath(dirname(python)), basename(python))
  Sys.setenv(RETICULATE_PYTHON = python)
  reticulate::use_python(python, required = TRUE)
  .acie$python <- python
  invisible(python)
}

# A Python module of the engine (binding the Python first).
.py <- function(module) {
  .bind_python(NULL)
  .engine_call(reticulate::import(module, convert = FALSE))
}

#' Use the engine in-process
#'
#' Binds this R session to the project's Python (see [find_acie_python()]) and
#' runs everything in-process: samples, sensitivity analyses and
#' counterfactuals of the shipped deep SCM, with no server.
#'
#' @param python Path of the Python interpreter (default: [find_acie_python()]).
#' @return An `acie_engine` object (invisibly), also kept as the session's engine.
#' @export
#' @examples
#' if (engine_available()) init_local()
init_local <- function(python = NULL) {
  .bind_python(python)
  acie <- .py("acie")
  .acie$mode <- "local"
  .acie$grpc <- NULL
  .acie$rest <- NULL
  .acie$model <- NULL
  engine <- structure(
    list(mode = "local", python = .acie$python,
         version = reticulate::py_to_r(acie$`__version__`)),
    class = "acie_engine")
  .acie$engine <- engine
  invisible(engine)
}

#' Use a running `acie serve`
#'
#' Counterfactuals go over gRPC (`port`) and jobs over REST (`http_port`: the
#' gRPC service has no job calls), both through the project's Python client
#' (`acie.client`) via reticulate, so that retries, TLS and the mapping of
#' status codes to ACIE errors are the tested ones of the Python SDK. Samples and
#' sensitivity analyses still run in-process (the served API answers
#' counterfactuals of the deep SCM, not analyses of samples).
#'
#' @param host Server host name.
#' @param port gRPC port (default: the `GRPC_PORT` setting of `acie serve` in the
#'   environment, else 50051).
#' @param http_port REST port (default: `HTTP_PORT` in the environment, else 8000).
#' @param token Bearer token. Default: the environment variable `ACIE_TOKEN`;
#'   else, for a server on this machine, a token minted like
#'   `acie auth token --sub $USER` does (with this machine's `JWT_SECRET` or
#'   local secret in `ACIE_DATA_DIR`).
#' @param timeout Per-call deadline in seconds.
#' @param wait Seconds to wait for the server to report SERVING.
#' @param python Path of the Python interpreter (default: [find_acie_python()]).
#' @return An `acie_engine` object (invisibly).
#' @export
#' @examples
#' \dontrun{
#' init_client(host = "localhost", port = 50051)
#' }
init_client <- function(host = "localhost",
                        port = as.integer(Sys.getenv("GRPC_PORT", "50051")),
                        http_port = as.integer(Sys.getenv("HTTP_PORT", "8000")),
                        token = Sys.getenv("ACIE_TOKEN", ""), timeout = 60,
                        wait = 10, python = NULL) {
  .bind_python(python)
  if (!nzchar(token)) {
    if (!host %in% c("localhost", "127.0.0.1", "::1")) {
      stop(.acie_condition(
        sprintf("a token is needed for %s: pass token= or set ACIE_TOKEN", host),
        c("acie_authentication_error", "acie_auth_error")))
    }
    token <- .local_token()
  }
  client <- .py("acie.client")
  grpc <- .engine_call(client$GrpcClient(sprintf("%s:%d", host, as.integer(port)),
                                         token = token, timeout_s = timeout))
  health <- .engine_call(grpc$health(wait = wait))
  rest <- .engine_call(client$RestClient(sprintf("http://%s:%d", host, as.integer(http_port)),
                                         token = token, timeout_s = timeout))
  .engine_call(rest$models())  # health needs no token: this call checks it
  .acie$mode <- "client"
  .acie$grpc <- grpc
  .acie$rest <- rest
  engine <- structure(
    list(mode = "client", python = .acie$python, host = host, port = as.integer(port),
         http_port = as.integer(http_port),
         model_version = reticulate::py_to_r(health)$model_version),
    class = "acie_engine")
  .acie$engine <- engine
  invisible(engine)
}

# A token for a server on this machine, minted as `acie auth token` does.
.local_token <- function() {
  user <- Sys.getenv("USER", Sys.getenv("USERNAME", "r-user"))
  # PYTHONHOME/PYTHONPATH (reticulate's) and R's LD_LIBRARY_PATH (which can put another
  # libpython first) belong to this R process, not to a child Python
  vars <- c("PYTHONHOME", "PYTHONPATH", "LD_LIBRARY_PATH")
  saved <- Sys.getenv(vars, unset = NA)
  Sys.unsetenv(vars)
  on.exit(for (k in names(saved)) if (!is.na(saved[[k]])) do.call(Sys.setenv, as.list(saved[k])))
  errors <- tempfile()
  on.exit(unlink(errors), add = TRUE)
  out <- suppressWarnings(system2(.acie$python, c("-m", "acie", "auth", "token", "--sub",
                                                  shQuote(user)),
                                  stdout = TRUE, stderr = errors))
  status <- attr(out, "status")
  if ((!is.null(status) && status != 0) || length(out) == 0) {
    stop(.acie_condition(
      paste0("no ACIE_TOKEN and `acie auth token` failed: ",
             paste(utils::tail(readLines(errors, warn = FALSE), 3), collapse = " ")),
      c("acie_authentication_error", "acie_auth_error")))
  }
  out[length(out)]
}

#' The engine this session uses
#'
#' @return The `acie_engine` of the last [init_local()] or [init_client()], or
#'   `NULL` before either.
#' @export
#' @examples
#' current_engine()
current_engine <- function() .acie$engine

#' @export
print.acie_engine <- function(x, ...) {
  if (identical(x$mode, "client")) {
    cat(sprintf("ACIE engine: served at %s (gRPC %d, REST %d), model %s\n",
                x$host, x$port, x$http_port, substr(x$model_version, 1, 12)))
  } else {
    cat(sprintf("ACIE engine: in-process (acie %s, Python %s)\n", x$version, x$python))
  }
  invisible(x)
}
