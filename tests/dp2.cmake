# Data path tests of the dptest helper (issue 10 "what it must show"):
# every operation and error status, the QP limit, loss.
