test_that("samples are listed and load with units in column attributes", {
  skip_if_no_engine()
  s <- list_samples()
  expect_true("cluster_sim_a" %in% s$name)
  expect_equal(nrow(s), 6)
  data <- load_sample("cluster_sim_a")
  expect_s3_class(data, "data.frame")
  expect_equal(nrow(data), 300)
  expect_equal(attr(data$dm_mass, "units"), "solMass")
  expect_equal(attr(data$flux, "units"), "nmgy")
  expect_equal(column_units(data)[["log_halo_mass"]], "dex(solMass)")
  # the same rows as Python's, value for value
  frame <- py("acie.analysis.samples")$load_sample("cluster_sim_a")
  expect_identical(as.numeric(data$flux), ACIEr:::.numbers(frame$`__getitem__`("flux")))
  expect_equal(as.numeric(data$dm_mass), 10^as.numeric(data$log_halo_mass), tolerance = 1e-12)
  expect_identical(unique(data$survey_id), "cluster_sim_a")
})

test_that("engine errors arrive as ACIE conditions, not Python tracebacks", {
  skip_if_no_engine()
  err <- tryCatch(load_sample("no_such_sample"), error = function(e) e)
  expect_s3_class(err, "acie_unknown_name_error")
  expect_equal(class(err), c("acie_unknown_name_error", "acie_error", "error", "condition"))
  expect_match(conditionMessage(err), "unknown sample 'no_such_sample'")
  expect_no_match(conditionMessage(err), "Traceback")
  expect_equal(err$python_type, "UnknownNameError")
  # a subclass of InputValidationError keeps its whole ACIE lineage
  err <- tryCatch(
    sensitivity_analysis(load_sample("cluster_sim_a"), "flux", "dm_mass", epsilon = 0.1,
                         grid = c(9, 12)),
    error = function(e) e)
  expect_equal(class(err), c("acie_out_of_range_error", "acie_input_validation_error",
                             "acie_error", "error", "condition"))
  expect_match(conditionMessage(err), "validity range")
  expect_error(sensitivity_analysis(load_sample("cluster_sim_a"), "flux", "dm_mass",
                                    epsilon = -1),
               class = "acie_input_validation_error")
  expect_error(sensitivity_analysis(data.frame(x = 1), "flux", "dm_mass"),
               class = "acie_input_validation_error")
})
