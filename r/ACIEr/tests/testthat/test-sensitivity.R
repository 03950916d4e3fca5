test_that("sensitivity_analysis gives acie.analysis's numbers", {
  skip_if_no_engine()
  data <- load_sample("cluster_sim_a")
  rows <- data[data$redshift < 0.2, ]
  sens <- sensitivity_analysis(rows, target_var = "flux", intervention_var = "dm_mass",
                               epsilon = 0.1)
  expect_s3_class(sens, "acie_sensitivity")
  expect_equal(nrow(sens), 9)
  expect_equal(attr(sens, "n"), nrow(rows))
  # the reference, computed in Python from the response module directly
  np <- py("numpy")
  samples <- py("acie.analysis.samples")
  response <- py("acie.analysis.response")
  observables <- py("acie.analysis.observables")
  pop <- samples$sample_population("cluster_sim_a")
  ids <- np$asarray(reticulate::r_to_py(as.list(as.integer(rows$galaxy_id))), dtype = "int64")
  ref <- response$counterfactual_response(
    pop$`__getitem__`(0L), pop$`__getitem__`(1L)$`__getitem__`(ids),
    treatment = "log_halo_mass", observable = observables$model_flux("r"),
    grid = ACIEr:::.py_numbers(sens$log_halo_mass), epsilon = 0.1)
  num <- ACIEr:::.numbers
  # tolerance: 1e-12 relative (the same float64 computation on both sides)
  expect_equal(as.numeric(sens$derivative), num(ref$derivative), tolerance = 1e-12)
  expect_equal(as.numeric(sens$derivative_se), num(ref$derivative_se), tolerance = 1e-12)
  expect_equal(as.numeric(sens$response), num(ref$response), tolerance = 1e-12)
  expect_equal(as.numeric(sens$ci_low), num(ref$ci_low), tolerance = 1e-12)
  # the stellar-to-halo mass relation bends: the response flattens above its pivot
  expect_gt(sens$derivative[1], sens$derivative[9] + 10 * max(sens$derivative_se))
  expect_equal(attr(sens$derivative, "units"), "dex(nmgy) / dex(solMass)")
  expect_false(any(sens$discontinuity))
})

test_that("a bend the grid does not resolve is flagged", {
  skip_if_no_engine()
  # one step across the SHMR's bend: the secant slope misses the mean of the local slopes
  # by many standard errors (Python: -12.5 SE); finer steps on the same galaxies pass
  sens <- sensitivity_analysis(load_sample("cluster_sim_b"), "flux", "dm_mass",
                               epsilon = 0.01, grid = c(11.1, 12.6))
  expect_equal(sens$discontinuity, c(TRUE, FALSE))
  expect_equal(attr(sens, "discontinuities"), data.frame(from = 11.1, to = 12.6))
  expect_lt(sens$mismatch_se[1], -5)
  fine <- sensitivity_analysis(load_sample("cluster_sim_b"), "flux", "dm_mass",
                               epsilon = 0.01, grid = c(11.2, 12.2, 12.4))
  expect_false(any(fine$discontinuity))
  p <- plot_sensitivity(sens)
  expect_s3_class(p, "ggplot")
})

test_that("plot_sensitivity draws the response and derivative with bands", {
  skip_if_no_engine()
  sens <- sensitivity_analysis(load_sample("cluster_sim_a"), "flux", "dm_mass")
  p <- plot_sensitivity(sens)
  expect_s3_class(p, "ggplot")
  built <- ggplot2::ggplot_build(p)
  expect_equal(length(unique(built$data[[1]]$PANEL)), 2)
  path <- tempfile(fileext = ".png")
  ggplot2::ggsave(path, p, width = 5, height = 5, dpi = 72)
  expect_gt(file.size(path), 1000)
  expect_error(plot_sensitivity(data.frame()), class = "acie_input_validation_error")
})
