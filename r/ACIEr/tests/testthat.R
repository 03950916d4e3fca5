library(testthat)
library(ACIEr)

test_check("ACIEr")
