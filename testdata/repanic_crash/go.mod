module repanic_crash

go 1.15
