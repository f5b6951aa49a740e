module rangefunc_body_recover

go 1.24
