-- ARGV[2]: grant ID. Returns how many tokens went.
return drop_grant(ARGV[2])
