# Server-level unit tests once more on PostgreSQL: the same executables with
# KERNIA_TEST_BACKEND=postgres (tests/unit/test_server.h then opens a fresh database on the
# server named by KERNIA_TEST_POSTGRES_URL, which scripts/test.sh sets after starting
# scripts/pg-test-server.sh). Without the URL they exit with 77 and ctest reports them as
# skipped. tst_store needs no entry here: it runs its whole suite on both backends itself.
function(kernia_unit_test_postgres name)
    add_test(NAME ${name}_postgres COMMAND ${name})
    set_tests_properties(${name}_postgres PROPERTIES
        ENVIRONMENT "KERNIA_TEST_BACKEND=postgres"
        SKIP_RETURN_CODE 77
        TIMEOUT 300
        LABELS "postgres")
endfunction()

kernia_unit_test_postgres(tst_anonymous)
kernia_unit_test_postgres(tst_pipeline)
kernia_unit_test_postgres(tst_delete_user)
# The housekeeping and prune-anonymous are SQL of both dialects too.
kernia_unit_test_postgres(tst_ops)
# The mail endpoints' transactions (change-email's single-use links, password reset).
kernia_unit_test_postgres(tst_mail)
