/*
 * test_http.c — the HTTP server in-process, driven by a real HTTP client
 * (libcurl): routing errors, body limits, JSON helpers, request ids,
 * streaming, the handler pool beside the event loop, the framing rules, and a
 * graceful stop with a request in flight (src/http/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_buf.h"
#include "lakehouse/lh_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- handlers under test ---- */

static void h_echo(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)ctx;
    json_t *body;
    lh_err err;
    if (lh_http_body_json(req, &body, &err)) {
        lh_http_res_error(res, &err);
        return;
    }
    json_object_set_new(body, "request_id", json_string(req->request_id));
    lh_http_res_json(res, 201, body);
}

static void h_item(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)ctx;
    long long limit;
    lh_err err;
    if (lh_http_query_int(req, "limit", 10, 1, 100, &limit, &err)) {
        lh_http_res_error(res, &err);
        return;
    }
    const char *q = lh_http_query(req, "q");
    lh_http_res_json(res, 200,
                     json_pack("{s:s, s:I, s:s?}", "name", lh_http_param(req, "name"), "limit",
                               (json_int_t)limit, "q", q));
}

static void h_slow(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    (void)ctx;
    usleep(400 * 1000);
    lh_http_res_json(res, 200, json_pack("{s:b}", "slept", 1));
}

struct counter {
    int left;
};

static ssize_t count_stream(void *ctx, char *buf, size_t max)
{
    struct counter *c = ctx;
    if (c->left == 0) return 0;
    int n = snprintf(buf, max, "line %d\n", c->left--);
    return n;
}

static void h_stream(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    (void)ctx;
    struct counter *c = malloc(sizeof *c);
    c->left = 1000;
    lh_http_res_stream(res, 200, "text/plain", count_stream, c, free);
}

static void h_ping(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    (void)ctx;
    lh_http_res_json(res, 200, json_pack("{s:b}", "pong", 1));
}

static void h_silent(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    (void)res;
    (void)ctx; /* forgets to respond: the server must answer 500, not hang */
}

/* ---- fixture ---- */

static lh_router *router;
static lh_http_server *server;
static char base[64];

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    router = lh_router_new();
    lh_router_add(router, "POST", "/echo", h_echo, NULL);
    lh_router_add(router, "GET", "/items/{name}", h_item, NULL);
    lh_router_add(router, "GET", "/slow", h_slow, NULL);
    lh_router_add(router, "GET", "/stream", h_stream, NULL);
    lh_router_add(router, "GET", "/silent", h_silent, NULL);
    lh_router_add(router, "GET", "/ping", h_ping, NULL);
    lh_router_mark_inline(router);
    /* a tiny pool, so that a few slow handlers fill it */
    lh_http_options o = {.host = "127.0.0.1", .port = 0, .max_body_bytes = 1024,
                         .idle_timeout_s = 5, .max_connections = 64,
                         .max_connections_per_ip = 64, .shutdown_timeout_s = 5,
                         .event_threads = 1, .worker_threads = 2};
    lh_err err;
    if (lh_http_server_start(&o, router, &server, &err)) {
        fprintf(stderr, "start: %s\n", err.message);
        return -1;
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%d", lh_http_server_port(server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (server) lh_http_server_stop(server);
    lh_router_free(router);
    curl_global_cleanup();
    return 0;
}

struct response {
    long status;
    lh_buf body;
    lh_buf headers;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    lh_buf_append(ud, p, size * n);
    return size * n;
}

/* Performs a request; body may be NULL. chunked sends without Content-Length. */
static void request(const char *method, const char *path, const char *body, size_t body_len,
                    bool chunked, const char *header, struct response *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    struct curl_slist *hs = NULL;
    if (header) hs = curl_slist_append(hs, header);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
        if (chunked) hs = curl_slist_append(hs, "Transfer-Encoding: chunked");
        hs = curl_slist_append(hs, "Expect:");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) r->status = -(long)rc;
    else curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    if (!r->body.data) lh_buf_puts(&r->body, "");
    if (!r->headers.data) lh_buf_puts(&r->headers, "");
}

static void response_free(struct response *r)
{
    lh_buf_free(&r->body);
    lh_buf_free(&r->headers);
}

static json_t *error_of(struct response *r, const char *code)
{
    json_t *j = json_loads(r->body.data, 0, NULL);
    if (!j) fail_msg("not JSON: %s", r->body.data);
    json_t *e = json_object_get(j, "error");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_true(strlen(json_string_value(json_object_get(e, "message"))) > 0);
    assert_true(strlen(json_string_value(json_object_get(e, "request_id"))) > 0);
    return j;
}

static void test_not_found_and_method(void **state)
{
    (void)state;
    struct response r;
    request("GET", "/nope", NULL, 0, false, NULL, &r);
    assert_int_equal(r.status, 404);
    json_decref(error_of(&r, "not_found"));
    assert_non_null(strcasestr(r.headers.data, "content-type: application/json"));
    response_free(&r);

    request("DELETE", "/echo", NULL, 0, false, NULL, &r);
    assert_int_equal(r.status, 405);
    json_decref(error_of(&r, "method_not_allowed"));
    assert_non_null(strcasestr(r.headers.data, "allow: POST"));
    response_free(&r);

    request("GET", "/items/bad%zz", NULL, 0, false, NULL, &r);
    assert_int_equal(r.status, 400);
    json_decref(error_of(&r, "bad_request"));
    response_free(&r);

    request("GET", "/silent", NULL, 0, false, NULL, &r);
    assert_int_equal(r.status, 500);
    json_decref(error_of(&r, "internal"));
    response_free(&r);
}

static void test_params_and_query(void **state)
{
    (void)state;
    struct response r;
    request("GET", "/items/caf%C3%A9?limit=5&q=a+b%26c", NULL, 0, false, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"name\":\"café\",\"limit\":5,\"q\":\"a b&c\"}\n");
    response_free(&r);
    request("GET", "/items/x?limit=1000", NULL, 0, false, NULL, &r);
    assert_int_equal(r.status, 400);
    json_t *j = error_of(&r, "bad_request");
    assert_non_null(strstr(r.body.data, "out of range"));
    json_decref(j);
    response_free(&r);
}

static void test_json_body(void **state)
{
    (void)state;
    struct response r;
    request("POST", "/echo", "{\"a\":1}", 7, false, "X-Request-Id: my-trace-1", &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body.data, "{\"a\":1,\"request_id\":\"my-trace-1\"}\n");
    assert_non_null(strcasestr(r.headers.data, "x-request-id: my-trace-1"));
    response_free(&r);

    /* an unsafe client id is replaced by ours */
    request("POST", "/echo", "{}", 2, false, "X-Request-Id: bad id with spaces", &r);
    assert_int_equal(r.status, 201);
    assert_null(strstr(r.body.data, "bad id"));
    response_free(&r);

    request("POST", "/echo", "{\"a\":", 5, false, NULL, &r);
    assert_int_equal(r.status, 400);
    json_decref(error_of(&r, "bad_request"));
    assert_non_null(strstr(r.body.data, "invalid JSON body at line 1"));
    response_free(&r);

    request("POST", "/echo", "[1,2]", 5, false, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "must be a JSON object"));
    response_free(&r);

    request("POST", "/echo", "{\"a\":1,\"a\":2}", 13, false, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.data, "duplicate"));
    response_free(&r);
}

static void test_body_limit(void **state)
{
    (void)state;
    char *big = malloc(5000);
    memset(big, ' ', 5000);
    big[0] = '{';
    big[4999] = '}';
    struct response r;
    request("POST", "/echo", big, 5000, false, NULL, &r); /* Content-Length over the limit */
    assert_int_equal(r.status, 413);
    json_decref(error_of(&r, "payload_too_large"));
    response_free(&r);
    request("POST", "/echo", big, 5000, true, NULL, &r); /* chunked: detected while reading */
    assert_int_equal(r.status, 413);
    json_decref(error_of(&r, "payload_too_large"));
    response_free(&r);
    request("POST", "/echo", big, 1000, true, NULL, &r); /* under the limit is fine */
    assert_int_equal(r.status, 400);                     /* (truncated JSON) */
    response_free(&r);
    free(big);
    /* the server is still healthy */
    request("GET", "/items/ok", NULL, 0, false, NULL, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static void test_stream(void **state)
{
    (void)state;
    struct response r;
    request("GET", "/stream", NULL, 0, false, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body.data, "line 1000\nline 999\n", 19) == 0);
    assert_non_null(strstr(r.body.data, "line 1\n"));
    size_t lines = 0;
    for (size_t i = 0; i < r.body.len; i++) lines += r.body.data[i] == '\n';
    assert_int_equal(lines, 1000);
    response_free(&r);
}

static void *slow_client(void *arg)
{
    request("GET", "/slow", NULL, 0, false, NULL, arg);
    return NULL;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Handlers run on the worker pool: four 400 ms handlers on two workers queue
 * (all answered), while the event loop keeps answering inline routes at once. */
static void test_worker_pool(void **state)
{
    (void)state;
    struct response r[4], ping;
    pthread_t t[4];
    double t0 = now_ms();
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, slow_client, &r[i]);
    usleep(100 * 1000); /* both workers busy, two requests queued */
    double p0 = now_ms();
    request("GET", "/ping", NULL, 0, false, NULL, &ping);
    assert_int_equal(ping.status, 200);
    assert_true(now_ms() - p0 < 200);
    response_free(&ping);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].status, 200);
        assert_string_equal(r[i].body.data, "{\"slept\":true}\n");
        response_free(&r[i]);
    }
    assert_true(now_ms() - t0 >= 780); /* two rounds of two */
}

/* cpu_slots: handlers shorter than 10 ms run one at a time on a pool of
 * four (in order), while a long one stops counting and never holds the queue. */
static atomic_int conc_in, conc_max;

static void h_conc(lh_http_req *req, lh_http_res *res, void *ctx)
{
    (void)req;
    (void)ctx;
    int now = atomic_fetch_add(&conc_in, 1) + 1;
    for (int m = atomic_load(&conc_max); now > m && !atomic_compare_exchange_weak(&conc_max, &m, now);) {}
    usleep(3000);
    atomic_fetch_sub(&conc_in, 1);
    lh_http_res_json(res, 200, json_pack("{s:b}", "ok", 1));
}

static void *conc_client(void *arg)
{
    request("GET", "/conc", NULL, 0, false, NULL, arg);
    return NULL;
}

static void test_cpu_slots(void **state)
{
    (void)state;
    lh_router *rt = lh_router_new();
    lh_router_add(rt, "GET", "/conc", h_conc, NULL);
    lh_router_add(rt, "GET", "/slow", h_slow, NULL);
    lh_http_options o = {.host = "127.0.0.1", .port = 0, .max_body_bytes = 1024, .idle_timeout_s = 5,
                         .max_connections = 64, .max_connections_per_ip = 64, .shutdown_timeout_s = 5,
                         .event_threads = 1, .worker_threads = 4, .cpu_slots = 1};
    lh_http_server *srv;
    lh_err err;
    assert_int_equal(lh_http_server_start(&o, rt, &srv, &err), LH_OK);
    char saved[64];
    memcpy(saved, base, sizeof saved);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", lh_http_server_port(srv));

    struct response r[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, conc_client, &r[i]);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].status, 200);
        response_free(&r[i]);
    }
    assert_int_equal(atomic_load(&conc_max), 1); /* one slot: never two at once */

    /* three 400 ms handlers overlap (each stops counting after 10 ms), and a
     * short request behind them is answered long before they end */
    double t0 = now_ms();
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, slow_client, &r[i]);
    usleep(50 * 1000);
    double q0 = now_ms();
    request("GET", "/conc", NULL, 0, false, NULL, &r[3]);
    assert_int_equal(r[3].status, 200);
    assert_true(now_ms() - q0 < 250);
    response_free(&r[3]);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].status, 200);
        response_free(&r[i]);
    }
    assert_true(now_ms() - t0 < 780); /* not one after the other */
    lh_http_server_stop(srv);
    lh_router_free(rt);
    memcpy(base, saved, sizeof saved);
}

/* The framing rules held before a body is read. */
static void test_framing(void **state)
{
    (void)state;
    uint64_t len;
    const char *one[] = {"12"}, *pad[] = {" 7 "}, *two_same[] = {"7", "7"}, *two_diff[] = {"2", "20"};
    const char *neg[] = {"-1"}, *plus[] = {"+5"}, *list[] = {"5, 5"}, *huge[] = {"99999999999999999999999"};
    const char *big[] = {"4097"}, *empty[] = {""};
    assert_int_equal(lh_http_check_framing(NULL, 0, NULL, 4096, &len), 0);
    assert_true(len == UINT64_MAX);
    assert_int_equal(lh_http_check_framing(NULL, 0, "chunked", 4096, &len), 0);
    assert_int_equal(lh_http_check_framing(one, 1, NULL, 4096, &len), 0);
    assert_true(len == 12);
    assert_int_equal(lh_http_check_framing(pad, 1, NULL, 4096, &len), 0);
    assert_true(len == 7);
    assert_int_equal(lh_http_check_framing(two_same, 2, NULL, 4096, &len), 0);
    assert_int_equal(lh_http_check_framing(two_diff, 2, NULL, 4096, &len), 400);
    assert_int_equal(lh_http_check_framing(one, 1, "chunked", 4096, &len), 400);
    assert_int_equal(lh_http_check_framing(neg, 1, NULL, 4096, &len), 400);
    assert_int_equal(lh_http_check_framing(plus, 1, NULL, 4096, &len), 400);
    assert_int_equal(lh_http_check_framing(list, 1, NULL, 4096, &len), 400);
    assert_int_equal(lh_http_check_framing(empty, 1, NULL, 4096, &len), 400);
    assert_int_equal(lh_http_check_framing(huge, 1, NULL, 4096, &len), 413);
    assert_int_equal(lh_http_check_framing(big, 1, NULL, 4096, &len), 413);
}

static void test_graceful_stop(void **state)
{
    (void)state;
    struct response r;
    pthread_t t;
    pthread_create(&t, NULL, slow_client, &r);
    usleep(100 * 1000); /* the request is now in its handler */
    lh_http_server_stop(server);
    server = NULL;
    pthread_join(t, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "{\"slept\":true}\n");
    response_free(&r);
    /* and nothing listens any more */
    request("GET", "/items/x", NULL, 0, false, NULL, &r);
    assert_true(r.status < 0);
    response_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_params_and_query),
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_worker_pool),
        cmocka_unit_test(test_cpu_slots),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_graceful_stop), /* last: stops the server */
    };
    return cmocka_run_group_tests_name("http", tests, setup, teardown);
}
