module osexit_defers

go 1.15
