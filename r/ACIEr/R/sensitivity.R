# Counterfactual sensitivity analyses (acie.analysis.sensitivity) and their plot.

.sample_rows <- function(data) {
  if (!is.data.frame(data) || !all(c("sample", "galaxy_id") %in% names(data))) {
    stop(.acie_condition(
      paste0("data must be rows of a sample (load_sample()) with its 'sample' and ",
             "'galaxy_id' columns; got ",
             if (is.data.frame(data)) paste("columns", paste(names(data), collapse = ", "))
             else class(data)[1]),
      "acie_input_validation_error"))
  }
  .frame_to_pandas(data, c("sample", "galaxy_id"))
}

#' Sensitivity of an observable to an intervention, by counterfactuals
#'
#' For every value `z` of a grid, the galaxies of `data` are intervened on at
#' `z + epsilon` and `z - epsilon` with all their exogenous noise kept (exact
#' counterfactuals of the simulator they were drawn from); the mean central
#' difference is the derivative of the population response `E[Y(z)]`, with its
#' standard error, a normal interval and flagged discontinuities. These are the
#' numbers of `acie.analysis.sensitivity_analysis` (Python) for the same inputs.
#'
#' Variable names: `dm_mass` (or `halo_mass`) is the halo mass node
#' `log_halo_mass`, `stellar_mass` `log_stellar_mass`, `gas_mass`, `sfr`, `size`
#' likewise; targets `flux` (the r band's noise-free model flux, in dex),
#' `flux_g`, `flux_r`, `flux_i`, `luminosity` (`log_luminosity`) and the same
#' masses; any property node is accepted under its own name. Masses are
#' intervened on in dex, so `epsilon = 0.1` is 0.1 dex and the derivative of
#' `flux` on `dm_mass` is `d log10 F / d log10 M200c`.
#'
#' @param data Rows of one sample ([load_sample()], possibly subset).
#' @param target_var,intervention_var Variable names (see Details).
#' @param epsilon Half-step of the central differences, in the intervention's
#'   unit (dex for masses).
#' @param grid Intervention values (default: 9 values from the 10th to the 90th
#'   percentile of the rows' values).
#' @param level Confidence level of the derivative intervals.
#' @param threshold,rtol An interval between grid points is flagged as holding a
#'   discontinuity when the secant slope and the mean of its two end derivatives
#'   differ by more than `threshold` paired standard errors and by more than
#'   `rtol` times the slope.
#' @return A data frame of class `acie_sensitivity`, one row per grid value:
#'   the intervention node's value, `derivative`, `derivative_se`, `ci_low`,
#'   `ci_high`, `response`, `response_se`, `mismatch_se` (secant mismatch to the
#'   next grid point, in standard errors) and `discontinuity` (`TRUE` when the
#'   interval to the next grid point is flagged). Units are column attributes;
#'   `attr(x, "discontinuities")` lists the flagged intervals.
#' @export
#' @examples
#' if (engine_available()) {
#'   data <- load_sample("cluster_sim_a")
#'   sensitivity_analysis(data, target_var = "flux", intervention_var = "dm_mass",
#'                        epsilon = 0.1)
#' }
sensitivity_analysis <- function(data, target_var, intervention_var, epsilon = 0.1,
                                 grid = NULL, level = 0.95, threshold = 5, rtol = 0.05) {
  rows <- .sample_rows(data)
  analysis <- .py("acie.analysis.sensitivity")
  curve <- .engine_call(analysis$sensitivity_analysis(
    rows, target_var = target_var, intervention_var = intervention_var,
    epsilon = epsilon, grid = if (is.null(grid)) NULL else .py_numbers(grid),
    level = level, threshold = threshold, rtol = rtol))
  .sensitivity_frame(curve, target_var, intervention_var)
}

.sensitivity_frame <- function(curve, target_var, intervention_var) {
  r <- .numbers
  node <- reticulate::py_to_r(curve$treatment)
  grid <- r(curve$grid)
  k <- length(grid)
  flagged <- matrix(.numbers(curve$discontinuities), ncol = 2, byrow = TRUE)
  intervals <- data.frame(from = flagged[, 1], to = flagged[, 2])
  mismatch <- if (k > 1) r(curve$details$get("secant_mismatch_in_se")) else numeric()
  tu <- reticulate::py_to_r(curve$treatment_unit)
  ou <- reticulate::py_to_r(curve$observable_unit)
  du <- sprintf("%s / %s", if (nzchar(ou)) ou else "1", if (nzchar(tu)) tu else "1")
  out <- data.frame(
    grid = grid,
    derivative = r(curve$derivative),
    derivative_se = r(curve$derivative_se),
    ci_low = r(curve$ci_low),
    ci_high = r(curve$ci_high),
    response = r(curve$response),
    response_se = r(curve$response_se),
    mismatch_se = c(mismatch, rep(NA_real_, k - length(mismatch))),
    discontinuity = grid %in% intervals$from)
  names(out)[1] <- node
  units <- c(tu, du, du, du, du, ou, ou, "", "")
  for (i in seq_along(units)) if (nzchar(units[i])) attr(out[[i]], "units") <- units[i]
  attr(out, "target_var") <- target_var
  attr(out, "intervention_var") <- intervention_var
  attr(out, "treatment") <- node
  attr(out, "observable") <- reticulate::py_to_r(curve$observable)
  attr(out, "epsilon") <- .numbers(curve$epsilon)
  attr(out, "level") <- .numbers(curve$level)
  attr(out, "n") <- as.integer(.numbers(curve$n))
  attr(out, "discontinuities") <- intervals
  class(out) <- c("acie_sensitivity", "data.frame")
  out
}

#' @export
`[.acie_sensitivity` <- function(x, ...) {
  out <- NextMethod()
  if (is.data.frame(out)) {  # a subset is a plain data frame (the analysis is the whole)
    for (a in c("target_var", "intervention_var", "treatment", "observable", "epsilon",
                "level", "n", "discontinuities")) {
      attr(out, a) <- NULL
    }
    class(out) <- "data.frame"
  }
  out
}

#' @export
print.acie_sensitivity <- function(x, ...) {
  cat(sprintf("Sensitivity of %s to do(%s = %s), %d galaxies, epsilon %g:\n",
              attr(x, "observable"), attr(x, "intervention_var"), attr(x, "treatment"),
              as.integer(attr(x, "n")), attr(x, "epsilon")))
  print(as.data.frame(unclass(x), optional = TRUE), ...)
  d <- attr(x, "discontinuities")
  if (nrow(d) > 0) {
    cat("flagged discontinuities:", paste(sprintf("[%.4g, %.4g]", d$from, d$to),
                                          collapse = ", "), "\n")
  }
  invisible(x)
}

#' Plot a sensitivity analysis
#'
#' Two panels over the intervention: the response `E[Y(z)]` with its band
#' (`level` interval) and the derivative with its interval; flagged
#' discontinuity intervals are shaded.
#'
#' @param sens The result of [sensitivity_analysis()].
#' @return A ggplot object.
#' @export
#' @examples
#' if (engine_available()) {
#'   sens <- sensitivity_analysis(load_sample("cluster_sim_a"), "flux", "dm_mass")
#'   plot_sensitivity(sens)
#' }
plot_sensitivity <- function(sens) {
  if (!inherits(sens, "acie_sensitivity")) {
    stop(.acie_condition(
      sprintf("sens must be the result of sensitivity_analysis(); got %s", class(sens)[1]),
      "acie_input_validation_error"))
  }
  node <- attr(sens, "treatment")
  z <- as.numeric(sens[[node]])
  zc <- stats::qnorm(0.5 + attr(sens, "level") / 2)
  unit <- function(col) {
    u <- attr(sens[[col]], "units")
    if (is.null(u)) "" else sprintf(" [%s]", u)
  }
  panels <- c(sprintf("response E[Y(z)]%s", unit("response")),
              sprintf("derivative dY/dz%s", unit("derivative")))
  long <- rbind(
    data.frame(z = z, estimate = as.numeric(sens$response),
               low = as.numeric(sens$response - zc * sens$response_se),
               high = as.numeric(sens$response + zc * sens$response_se), panel = panels[1]),
    data.frame(z = z, estimate = as.numeric(sens$derivative),
               low = as.numeric(sens$ci_low), high = as.numeric(sens$ci_high),
               panel = panels[2]))
  long$panel <- factor(long$panel, levels = panels)
  plot <- ggplot2::ggplot(long, ggplot2::aes(x = z, y = estimate)) +
    ggplot2::geom_ribbon(ggplot2::aes(ymin = low, ymax = high),
                         fill = "steelblue", alpha = 0.3) +
    ggplot2::geom_line(colour = "steelblue4") +
    ggplot2::geom_point(colour = "steelblue4", size = 1.2) +
    ggplot2::facet_wrap(~panel, ncol = 1, scales = "free_y") +
    ggplot2::labs(
      x = sprintf("%s (do(%s))%s", node, attr(sens, "intervention_var"), unit(node)),
      y = NULL,
      title = sprintf("%s under do(%s)", attr(sens, "observable"),
                      attr(sens, "intervention_var")),
      subtitle = sprintf("%d galaxies, epsilon %g, %g%% bands", as.integer(attr(sens, "n")),
                         attr(sens, "epsilon"), 100 * attr(sens, "level"))) +
    ggplot2::theme_bw()
  d <- attr(sens, "discontinuities")
  if (nrow(d) > 0) {
    plot <- plot + ggplot2::annotate("rect", xmin = d$from, xmax = d$to, ymin = -Inf,
                                     ymax = Inf, fill = "firebrick", alpha = 0.15)
  }
  plot
}

#' @importFrom utils globalVariables
NULL

utils::globalVariables(c("z", "estimate", "low", "high", "panel"))
