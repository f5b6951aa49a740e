module seeds_extra

go 1.15
