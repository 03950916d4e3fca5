test_that("lme4 and acie.analysis agree within 1e-4 relative", {
  skip_if_no_engine()
  combined_catalog <- do.call(rbind, lapply(list_samples()$name, load_sample))
  f <- log(mass) ~ log(luminosity) + (1 | survey_id)
  model <- fit_hierarchical_model(formula = f, data = combined_catalog)
  expect_s4_class(model, "merMod")
  engine <- engine_hierarchical_fit(f, combined_catalog)
  expect_true(engine$converged)
  fe <- lme4::fixef(model)
  expect_equal(names(engine$fixed_effects), names(fe))
  expect_equal(engine$fixed_effects, fe, tolerance = 1e-4)
  vc <- variance_components(model)
  expect_equal(engine$variance_components[names(vc)], vc, tolerance = 1e-4)
  expect_equal(engine$log_likelihood, as.numeric(logLik(model)), tolerance = 1e-6)
  # the fixed effects are the universal relation: slope near the simulator's
  expect_gt(fe[["log(luminosity)"]], 1.0)
  expect_lt(fe[["log(luminosity)"]], 1.35)
})

test_that("formula columns are checked", {
  expect_error(fit_hierarchical_model(log(mass) ~ colour + (1 | survey_id),
                                      data.frame(mass = 1, survey_id = "a")),
               class = "acie_unknown_name_error")
  expect_error(fit_hierarchical_model("y ~ x", data.frame()),
               class = "acie_input_validation_error")
})
