# Hierarchical (mixed-effects) fits: lme4 natively, and the engine's for comparison.

.plain_columns <- function(data, columns) {
  out <- data[, intersect(columns, names(data)), drop = FALSE]
  for (col in names(out)) {
    if (!is.factor(out[[col]])) attributes(out[[col]]) <- NULL
  }
  as.data.frame(out)
}

#' Fit a hierarchical model with lme4
#'
#' `lme4::lmer` on the data (R's own implementation is the reference that
#' `acie.analysis.fit_hierarchical_model` was checked against); the unit
#' attributes of the columns are dropped for the fit. With random intercepts by
#' survey, the fixed effects are the universal relation and the variance
#' component the survey-to-survey spread of the calibration.
#'
#' @param formula An lme4 formula, e.g.
#'   `log(mass) ~ log(luminosity) + (1 | survey_id)` (`log` is the natural
#'   logarithm, as in the engine's formulas).
#' @param data A data frame, e.g. rows of several samples bound with `rbind`.
#' @param REML Restricted maximum likelihood (the default, as lme4 and the engine).
#' @param ... Passed to [lme4::lmer()].
#' @return The fitted `merMod`.
#' @export
#' @examples
#' if (engine_available()) {
#'   combined_catalog <- do.call(rbind, lapply(list_samples()$name, load_sample))
#'   model <- fit_hierarchical_model(log(mass) ~ log(luminosity) + (1 | survey_id),
#'                                   data = combined_catalog)
#'   summary(model)
#' }
fit_hierarchical_model <- function(formula, data, REML = TRUE, ...) {
  if (!inherits(formula, "formula")) {
    stop(.acie_condition(sprintf("formula must be an R formula; got %s", class(formula)[1]),
                         "acie_input_validation_error"))
  }
  missing <- setdiff(all.vars(formula), names(data))
  if (length(missing) > 0) {
    stop(.acie_condition(
      sprintf("formula names column(s) %s that the data lack; the columns are: %s",
              paste(missing, collapse = ", "), paste(names(data), collapse = ", ")),
      c("acie_unknown_name_error", "acie_input_validation_error")))
  }
  frame <- .plain_columns(data, all.vars(formula))
  fit <- lme4::lmer(formula, data = frame, REML = REML, ...)
  fit@call$formula <- formula
  fit@call$data <- substitute(data)
  fit
}

#' The same fit by the engine (acie.analysis)
#'
#' Fits `formula` to `data` with `acie.analysis.fit_hierarchical_model`
#' (statsmodels MixedLM) in the Python engine, for comparison with
#' [fit_hierarchical_model()].
#'
#' @inheritParams fit_hierarchical_model
#' @return A list: `fixed_effects` (named by R's coefficient names),
#'   `variance_components` (named like [variance_components()]), `log_likelihood`,
#'   `converged`.
#' @export
#' @examples
#' if (engine_available()) {
#'   data <- do.call(rbind, lapply(list_samples()$name, load_sample))
#'   engine_hierarchical_fit(log(mass) ~ log(luminosity) + (1 | survey_id), data)
#' }
engine_hierarchical_fit <- function(formula, data, REML = TRUE) {
  analysis <- .py("acie.analysis.hierarchical")
  text <- paste(deparse(formula, width.cutoff = 500L), collapse = " ")
  frame <- .frame_to_pandas(.plain_columns(data, all.vars(formula)))
  fit <- .engine_call(analysis$fit_hierarchical_model(text, frame, reml = REML))
  fe <- unlist(.number_dict(fit$fixed_effects$estimate$to_dict()))
  terms <- names(fe)
  names(fe) <- ifelse(terms == "Intercept", "(Intercept)", terms)
  vc <- .number_dict(fit$variance_components$estimate$to_dict())
  group <- reticulate::py_to_r(fit$parsed$group)
  rename <- function(label) {
    if (label == "Residual Var") return("Residual")
    body <- sub(" Var$", "", sub(paste0("^", group, " "), "", label))
    body <- gsub("\\bIntercept\\b", "(Intercept)", body)
    paste(group, body)
  }
  vc_out <- unlist(vc)
  names(vc_out) <- vapply(names(vc), rename, character(1))
  list(fixed_effects = fe, variance_components = vc_out,
       log_likelihood = .numbers(fit$log_likelihood),
       converged = reticulate::py_to_r(fit$converged))
}

#' Variance components of an lme4 fit
#'
#' @param model A `merMod` from [fit_hierarchical_model()].
#' @return A named numeric vector: the variance of each random effect
#'   (`"<group> <term>"`, e.g. `"survey_id (Intercept)"`) and `"Residual"`, in
#'   squared response units.
#' @export
#' @examples
#' if (engine_available()) {
#'   data <- do.call(rbind, lapply(list_samples()$name, load_sample))
#'   model <- fit_hierarchical_model(log(mass) ~ log(luminosity) + (1 | survey_id), data)
#'   variance_components(model)
#' }
variance_components <- function(model) {
  vc <- as.data.frame(lme4::VarCorr(model))
  vc <- vc[is.na(vc$var2), , drop = FALSE]
  out <- vc$vcov
  names(out) <- ifelse(vc$grp == "Residual", "Residual", paste(vc$grp, vc$var1))
  out
}
