module deftrace.test/gen

go 1.19
