test_that("counterfactuals are served over gRPC and jobs over REST", {
  skip_if_no_engine()
  skip_if_no_server()
  s <- served()
  engine <- init_client(host = s$host, port = s$port, http_port = s$http_port)
  expect_equal(engine$mode, "client")
  expect_equal(nchar(engine$model_version), 64)
  rows <- load_sample("cluster_sim_a")[1:2, ]
  cf <- counterfactual(rows, list(stellar_mass = 10.8), physics_tolerance = 1e9)
  expect_s3_class(cf, "acie_counterfactual")
  expect_equal(cf$mode, "client")
  expect_equal(dim(cf$images), c(2L, 3L, 64L, 64L))
  expect_length(cf$confidence, 2)
  expect_equal(cf$model_version, engine$model_version)
  # gRPC carries one row per galaxy: the intervened node is set in each
  expect_equal(nrow(cf$counterfactual_properties), 2L)
  expect_equal(cf$counterfactual_properties$log_stellar_mass, c(10.8, 10.8), tolerance = 1e-4)

  id <- submit_job(rows[1, ], list(stellar_mass = 10.8), physics_tolerance = 1e9)
  done <- job(id, wait = TRUE, timeout = 120)
  expect_equal(dim(done$images), c(1L, 3L, 64L, 64L))
  listed <- jobs()
  expect_true(id %in% listed$job_id)
  expect_equal(listed$state[listed$job_id == id], "COMPLETE")
})

test_that("served errors arrive as ACIE conditions", {
  skip_if_no_engine()
  skip_if_no_server()
  s <- served()
  init_client(host = s$host, port = s$port, http_port = s$http_port)
  # the server refuses an image of the wrong shape: INVALID_ARGUMENT
  err <- tryCatch(counterfactual(array(1, c(1, 3, 16, 16)), list(log_sfr = 0)),
                  error = function(e) e)
  expect_s3_class(err, "acie_input_validation_error")
  expect_s3_class(err, "acie_error")
  expect_equal(err$code, "INVALID_ARGUMENT")
  expect_no_match(conditionMessage(err), "Traceback")
  err <- tryCatch(job("no-such-job"), error = function(e) e)
  expect_s3_class(err, "acie_not_found_error")
  # a wrong token is refused: UNAUTHENTICATED
  err <- tryCatch(init_client(host = s$host, port = s$port, http_port = s$http_port,
                              token = "not-a-token"),
                  error = function(e) e)
  expect_s3_class(err, "acie_authentication_error")
})

test_that("without ACIE_TOKEN a local server gets a token minted on this machine", {
  skip_if_no_engine()
  skip_if_no_server()
  s <- served()
  withr_token <- Sys.getenv("ACIE_TOKEN")
  Sys.unsetenv("ACIE_TOKEN")
  on.exit(Sys.setenv(ACIE_TOKEN = withr_token))
  engine <- init_client(host = "localhost", port = s$port, http_port = s$http_port)
  expect_equal(engine$mode, "client")
  expect_s3_class(jobs(), "data.frame")
})

test_that("local mode runs the shipped model in-process; jobs need a server", {
  skip_if_no_engine()
  init_local()
  on.exit(if (!is.null(served())) {
    s <- served()
    init_client(host = s$host, port = s$port, http_port = s$http_port)
  })
  expect_error(jobs(), class = "acie_configuration_error")
  cf <- counterfactual(load_sample("cluster_sim_a")[1, ], list(stellar_mass = 10.8),
                       physics_tolerance = 1e9)
  expect_equal(cf$mode, "local")
  expect_equal(dim(cf$images), c(1L, 3L, 64L, 64L))
  expect_equal(cf$counterfactual_properties$log_stellar_mass, 10.8, tolerance = 1e-4)
  expect_error(counterfactual(load_sample("cluster_sim_a")[1, ], list(colour = 1)),
               class = "acie_unknown_name_error")
})
