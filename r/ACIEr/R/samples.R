# Named catalogue samples (acie.analysis.samples).

# A pandas DataFrame as an R data.frame, with attrs["units"] as column attributes.
.frame_from_pandas <- function(frame) {
  columns <- reticulate::py_to_r(frame$columns$tolist())
  out <- lapply(columns, function(col) {
    values <- frame$`__getitem__`(col)
    kind <- reticulate::py_to_r(values$dtype$kind)
    if (kind %in% c("O", "U", "S")) {
      as.character(reticulate::py_to_r(values$astype("str")$tolist()))
    } else if (kind == "b") {
      as.logical(reticulate::py_to_r(values$tolist()))
    } else {
      .numbers(values)
    }
  })
  names(out) <- columns
  units <- reticulate::py_to_r(frame$attrs$get("units", reticulate::dict()))
  for (col in intersect(names(units), columns)) {
    attr(out[[col]], "units") <- units[[col]]
  }
  as.data.frame(out, stringsAsFactors = FALSE, optional = TRUE)
}

# A numeric Python array or Series as an R numeric vector. Through a list: reticulate
# 1.28 (Debian 12) cannot convert arrays of numpy >= 2 directly.
.numbers <- function(x) {
  np <- reticulate::import("numpy", convert = FALSE)
  as.numeric(unlist(reticulate::py_to_r(np$ravel(np$asarray(x, dtype = "float64"))$tolist())))
}

# An R numeric vector as a float64 numpy array (through a list, as above).
.py_numbers <- function(x) {
  np <- reticulate::import("numpy", convert = FALSE)
  np$asarray(reticulate::r_to_py(as.list(as.numeric(x))), dtype = "float64")
}

# A Python dict of numbers or arrays as a named list of R numeric vectors.
.number_dict <- function(d) {
  keys <- as.character(unlist(reticulate::import_builtins()$list(d$keys())))
  out <- lapply(keys, function(k) .numbers(d$`__getitem__`(k)))
  names(out) <- keys
  out
}

# An R data.frame (plain columns) as a pandas DataFrame.
.frame_to_pandas <- function(data, columns = names(data)) {
  pd <- reticulate::import("pandas", convert = FALSE)
  cols <- lapply(columns, function(col) {
    v <- data[[col]]
    if (is.factor(v)) v <- as.character(v)
    attributes(v) <- NULL
    if (is.numeric(v)) .py_numbers(v) else reticulate::r_to_py(as.list(v))
  })
  names(cols) <- columns
  pd$DataFrame(reticulate::dict(cols))
}

#' The named catalogue samples
#'
#' @return A data frame with one row per sample: `name`, `n_galaxies`,
#'   `description`.
#' @export
#' @examples
#' if (engine_available()) list_samples()
list_samples <- function() {
  samples <- .py("acie.analysis.samples")
  .frame_from_pandas(.engine_call(samples$list_samples()))
}

#' Load a named catalogue sample
#'
#' A seeded draw of the causal galaxy simulator seen by a survey
#' (`acie.analysis.samples`): the same name gives the same rows everywhere.
#' Each column carries its unit in `attr(column, "units")` (astropy spelling).
#'
#' Columns: `sample`, `galaxy_id` (which simulated galaxy: they tie the rows to
#' their counterfactuals), `survey_id`, `dm_mass` (halo mass M200c, solMass),
#' `mass` (the survey's stellar-mass estimate, solMass), `luminosity` (r band,
#' solLum), `flux` (noise-free r-band model flux, nmgy), `redshift`, and the
#' simulator's true property nodes (`log_halo_mass` ... `velocity_dispersion`).
#'
#' @param name A sample name from [list_samples()], e.g. `"cluster_sim_a"`.
#' @return A data frame with one row per galaxy.
#' @export
#' @examples
#' if (engine_available()) head(load_sample("cluster_sim_a"))
load_sample <- function(name) {
  samples <- .py("acie.analysis.samples")
  frame <- .engine_call(samples$load_sample(name))
  out <- .frame_from_pandas(frame)
  attr(out, "acie_sample") <- name
  out
}

#' Units of a data frame's columns
#'
#' @param data A data frame from [load_sample()] or [sensitivity_analysis()].
#' @return A named character vector: the `units` attribute of each column that
#'   has one.
#' @export
#' @examples
#' if (engine_available()) column_units(load_sample("cluster_sim_a"))
column_units <- function(data) {
  units <- vapply(data, function(col) {
    u <- attr(col, "units")
    if (is.null(u)) NA_character_ else as.character(u)
  }, character(1))
  units[!is.na(units)]
}
