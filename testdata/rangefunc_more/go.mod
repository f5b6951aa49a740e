module rangefunc_more

go 1.23
