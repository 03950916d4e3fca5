# The engine is the project's Python (find_acie_python(): ACIE_PYTHON under R CMD check).
skip_if_no_engine <- function() {
  skip_if_not(engine_available(), "no Python with the acie package (set ACIE_PYTHON)")
}

# The server that tests/r/test_acier.py started (acie serve on free ports), if any.
served <- function() {
  port <- Sys.getenv("ACIER_TEST_GRPC_PORT", "")
  if (!nzchar(port)) return(NULL)
  list(host = Sys.getenv("ACIER_TEST_HOST", "127.0.0.1"), port = as.integer(port),
       http_port = as.integer(Sys.getenv("ACIER_TEST_HTTP_PORT")))
}

skip_if_no_server <- function() {
  skip_if(is.null(served()), "no acie serve (tests/r/test_acier.py starts one)")
}

# A Python module with R conversion (for computing the reference in Python).
py <- function(module) {
  ACIEr:::.bind_python(NULL)
  reticulate::import(module, convert = FALSE)
}
