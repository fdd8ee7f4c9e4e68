kernia_unit_test(tst_ratelimit tst_ratelimit.cpp test_server.h)
# Once more on PostgreSQL when scripts/test.sh provides one (see CMakeLists.fragment-postgres.cmake):
# the counters and their sweep are SQL of both dialects.
if(COMMAND kernia_unit_test_postgres)
    kernia_unit_test_postgres(tst_ratelimit)
endif()
