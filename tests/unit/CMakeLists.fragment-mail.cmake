kernia_unit_test(tst_mail tst_mail.cpp test_server.h)
# The SMTP tests run a real SMTP server: tests/tools/smtp_sink.py (Debian python3-aiosmtpd).
target_compile_definitions(tst_mail PRIVATE KERNIA_SMTP_SINK="${CMAKE_SOURCE_DIR}/tests/tools/smtp_sink.py")
target_link_libraries(tst_mail PRIVATE Qt6::Network)
