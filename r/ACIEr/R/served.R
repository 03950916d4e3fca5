# Counterfactuals of the deep SCM: served (init_client) or in-process (init_local).

.require_engine <- function() {
  if (is.null(.acie$mode)) init_local()
  .acie$mode
}

# Images (n, C, H, W) as a float32 numpy array: from an R array or from sample rows.
.observation <- function(x) {
  np <- reticulate::import("numpy", convert = FALSE)
  if (is.data.frame(x)) {
    samples <- .py("acie.analysis.samples")
    return(.engine_call(samples$sample_images(.sample_rows(x))))
  }
  if (!is.numeric(x) || !length(dim(x)) %in% c(3L, 4L)) {
    stop(.acie_condition(
      paste0("x must be sample rows (load_sample()) or a numeric array of images ",
             "(n, bands, height, width); got ", class(x)[1],
             if (!is.null(dim(x))) paste0(" of dim ", paste(dim(x), collapse = " x ")) else ""),
      c("acie_shape_error", "acie_input_validation_error")))
  }
  # R arrays are column-major: reshape in Fortran order to keep x[i, c, h, w]
  shape <- reticulate::tuple(as.list(as.integer(dim(x))))
  np$ascontiguousarray(np$reshape(.py_numbers(x), shape, order = "F"), dtype = "float32")
}

# Interventions: analyst names (dm_mass, ...) or property nodes -> a dict of floats.
.interventions <- function(interventions) {
  if (!is.list(interventions) && !is.numeric(interventions) ||
      is.null(names(interventions)) || any(!nzchar(names(interventions)))) {
    stop(.acie_condition(
      "interventions must be a named list, e.g. list(stellar_mass = 10.8) (values in dex)",
      "acie_input_validation_error"))
  }
  analysis <- .py("acie.analysis.sensitivity")
  nodes <- vapply(names(interventions), function(n) {
    reticulate::py_to_r(.engine_call(analysis$resolve_intervention(n)))
  }, character(1))
  values <- lapply(interventions, function(v) {
    if (length(v) == 1) as.numeric(v) else .py_numbers(v)
  })
  names(values) <- nodes
  do.call(reticulate::dict, values)
}

.r_array <- function(images) {
  np <- reticulate::import("numpy", convert = FALSE)
  shape <- as.integer(unlist(reticulate::import_builtins()$list(np$shape(images))))
  array(.numbers(np$ravel(np$asarray(images), order = "F")), dim = shape)
}

.answer <- function(ans, mode) {
  props <- function(d) as.data.frame(.number_dict(d), optional = TRUE)
  structure(list(
    images = .r_array(ans$images),
    confidence = .numbers(ans$confidence),
    violation_score = .numbers(ans$violation_score),
    factual_properties = props(ans$factual_properties),
    counterfactual_properties = props(ans$counterfactual_properties),
    model_version = reticulate::py_to_r(ans$model_version),
    latency_ms = .numbers(ans$latency_ms),
    mode = mode), class = "acie_counterfactual")
}

#' A counterfactual of the deep SCM
#'
#' "What would these galaxies look like if ...": abduction of each galaxy's
#' properties from its image, `do(interventions)`, and the decoded image, checked
#' against the physics constraints. Served by `acie serve` after
#' [init_client()] (gRPC), or computed in-process by the shipped model after
#' [init_local()] (the default when neither was called).
#'
#' @param x Rows of a sample ([load_sample()]; their images are rendered by the
#'   simulator: 64 x 64 in g, r, i, as the shipped model expects) or a numeric
#'   array of images `(n, bands, height, width)` in nanomaggies per pixel.
#' @param interventions A named list of new values: property nodes or the names
#'   of [sensitivity_analysis()] (`stellar_mass = 10.8` is `log_stellar_mass`,
#'   in dex).
#' @param physics_tolerance,physics_steps The physics check's tolerance and the
#'   projection steps (default: the server's settings).
#' @return An `acie_counterfactual`: `images` (array n x bands x H x W),
#'   `confidence`, `violation_score`, `factual_properties` and
#'   `counterfactual_properties` (data frames, one row per galaxy),
#'   `model_version`, `latency_ms`.
#' @export
#' @examples
#' if (engine_available()) {
#'   rows <- load_sample("cluster_sim_a")[1:2, ]
#'   cf <- counterfactual(rows, list(stellar_mass = 10.8), physics_tolerance = 1e9)
#'   dim(cf$images)
#' }
counterfactual <- function(x, interventions, physics_tolerance = NULL, physics_steps = NULL) {
  mode <- .require_engine()
  obs <- .observation(x)
  ivs <- .interventions(interventions)
  if (identical(mode, "client")) {
    ans <- .engine_call(.acie$grpc$counterfactual(
      obs, ivs, physics_tolerance = physics_tolerance,
      physics_steps = if (is.null(physics_steps)) NULL else as.integer(physics_steps)))
  } else {
    if (is.null(.acie$model)) {
      .acie$model <- .engine_call(.py("acie.deepscm.engine")$load_default_model())
    }
    args <- list(obs, ivs)
    if (!is.null(physics_tolerance)) args$physics_tolerance <- physics_tolerance
    if (!is.null(physics_steps)) args$physics_steps <- as.integer(physics_steps)
    ans <- .engine_call(do.call(.acie$model$counterfactual, args))
  }
  .answer(ans, mode)
}

#' @export
print.acie_counterfactual <- function(x, ...) {
  cat(sprintf("ACIE counterfactual (%s): %s images, model %s, %.1f ms\n", x$mode,
              paste(dim(x$images), collapse = " x "), substr(x$model_version, 1, 12),
              x$latency_ms))
  cat("confidence:", format(x$confidence, digits = 3), "\n")
  cat("violation score:", format(x$violation_score, digits = 3), "\n")
  invisible(x)
}

.require_client <- function(what) {
  if (!identical(.acie$mode, "client")) {
    stop(.acie_condition(
      sprintf("%s needs a server: call init_client() first (jobs live in its database)", what),
      "acie_configuration_error"))
  }
}

#' Queue a counterfactual job on the server
#'
#' @inheritParams counterfactual
#' @param shared Whether other users may read the job.
#' @return The job's id; follow it with [job()] and [jobs()].
#' @export
#' @examples
#' \dontrun{
#' init_client()
#' id <- submit_job(load_sample("cluster_sim_a")[1, ], list(stellar_mass = 10.8))
#' job(id, wait = TRUE)
#' }
submit_job <- function(x, interventions, shared = FALSE, physics_tolerance = NULL,
                       physics_steps = NULL) {
  .require_client("submit_job()")
  view <- .engine_call(.acie$rest$submit_job(
    .observation(x), .interventions(interventions), shared = shared,
    physics_tolerance = physics_tolerance,
    physics_steps = if (is.null(physics_steps)) NULL else as.integer(physics_steps)))
  reticulate::py_to_r(view)$job_id
}

#' Recent counterfactual jobs on the server
#'
#' @param limit The most jobs to list (newest first).
#' @return A data frame: `job_id`, `state`, `created_at`, `updated_at`,
#'   `request_id`, `owner` (where the server reports them), one row per job.
#' @export
#' @examples
#' \dontrun{
#' init_client()
#' jobs()
#' }
jobs <- function(limit = 20) {
  .require_client("jobs()")
  listed <- reticulate::py_to_r(.engine_call(.acie$rest$jobs(limit = as.integer(limit))))
  columns <- c("job_id", "request_id", "state", "owner", "created_at", "updated_at")
  rows <- lapply(listed, function(j) {
    vals <- lapply(columns, function(k) {
      v <- j[[k]]
      if (is.null(v)) NA_character_ else as.character(v)
    })
    names(vals) <- columns
    as.data.frame(vals, stringsAsFactors = FALSE)
  })
  if (length(rows) == 0) {
    return(as.data.frame(setNames(rep(list(character()), length(columns)), columns)))
  }
  do.call(rbind, rows)
}

#' A counterfactual job on the server
#'
#' @param id A job id ([submit_job()], [jobs()]).
#' @param wait Wait for the job to finish and return its counterfactual.
#' @param timeout Seconds to wait.
#' @return With `wait = FALSE`, the job as a list (`job_id`, `state`, ... and
#'   `result` once COMPLETE); with `wait = TRUE`, an `acie_counterfactual`. A
#'   failed job raises its ACIE error.
#' @export
#' @examples
#' \dontrun{
#' job(jobs()$job_id[1])
#' }
job <- function(id, wait = FALSE, timeout = 300) {
  .require_client("job()")
  if (isTRUE(wait)) {
    return(.answer(.engine_call(.acie$rest$wait(id, timeout_s = timeout)), "client"))
  }
  reticulate::py_to_r(.engine_call(.acie$rest$job(id)))
}
