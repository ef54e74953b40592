/*
 * test_router.c — route matching, parameters, 404 / 405 and path decoding (src/http/router.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lakehouse/lh_http.h"

#include <string.h>

static void h_list(lh_http_req *q, lh_http_res *s, void *c) { (void)q; (void)s; (void)c; }
static void h_get(lh_http_req *q, lh_http_res *s, void *c) { (void)q; (void)s; (void)c; }
static void h_version(lh_http_req *q, lh_http_res *s, void *c) { (void)q; (void)s; (void)c; }
static void h_special(lh_http_req *q, lh_http_res *s, void *c) { (void)q; (void)s; (void)c; }
static void h_post(lh_http_req *q, lh_http_res *s, void *c) { (void)q; (void)s; (void)c; }

static lh_router *make_router(void)
{
    lh_router *r = lh_router_new();
    lh_router_add(r, "GET", "/v1/datasets", h_list, "list");
    lh_router_add(r, "GET", "/v1/datasets/{name}", h_get, "get");
    lh_router_add(r, "POST", "/v1/datasets/{name}", h_post, NULL);
    lh_router_add(r, "GET", "/v1/datasets/{name}/versions/{n}", h_version, NULL);
    lh_router_add(r, "GET", "/v1/datasets/_special", h_special, NULL);
    return r;
}

static void test_literal_and_params(void **state)
{
    (void)state;
    lh_router *r = make_router();
    lh_arena *a = lh_arena_new(0);
    lh_route_match m;
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets", a, &m), LH_OK);
    assert_ptr_equal(m.fn, h_list);
    assert_string_equal(m.ctx, "list");
    assert_int_equal(m.n_params, 0);

    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/workers", a, &m), LH_OK);
    assert_ptr_equal(m.fn, h_get);
    assert_int_equal(m.n_params, 1);
    assert_string_equal(m.params[0].name, "name");
    assert_string_equal(m.params[0].value, "workers");

    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/w/versions/3", a, &m), LH_OK);
    assert_ptr_equal(m.fn, h_version);
    assert_int_equal(m.n_params, 2);
    assert_string_equal(m.params[1].name, "n");
    assert_string_equal(m.params[1].value, "3");

    /* a literal segment beats a parameter, whatever the registration order */
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/_special", a, &m), LH_OK);
    assert_ptr_equal(m.fn, h_special);

    /* HEAD is served by GET routes */
    assert_int_equal(lh_router_match(r, "HEAD", "/v1/datasets", a, &m), LH_OK);
    lh_arena_free(a);
    lh_router_free(r);
}

static void test_not_found_and_method(void **state)
{
    (void)state;
    lh_router *r = make_router();
    lh_arena *a = lh_arena_new(0);
    lh_route_match m;
    assert_int_equal(lh_router_match(r, "GET", "/v1/nothing", a, &m), LH_ENOTFOUND);
    assert_int_equal(lh_router_match(r, "GET", "/", a, &m), LH_ENOTFOUND);
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/a/b", a, &m), LH_ENOTFOUND);
    /* empty parameter segment (trailing slash) does not match {name} */
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/", a, &m), LH_ENOTFOUND);
    assert_int_equal(lh_router_match(r, "DELETE", "/v1/datasets/x", a, &m), LH_EMETHOD);
    assert_string_equal(m.allow, "GET, POST");
    assert_int_equal(lh_router_match(r, "POST", "/v1/datasets", a, &m), LH_EMETHOD);
    assert_string_equal(m.allow, "GET");
    /* absurdly deep paths are simply not found */
    char deep[200] = "";
    for (int i = 0; i < 40; i++) strcat(deep, "/a");
    assert_int_equal(lh_router_match(r, "GET", deep, a, &m), LH_ENOTFOUND);
    lh_arena_free(a);
    lh_router_free(r);
}

static void test_decoding(void **state)
{
    (void)state;
    lh_router *r = make_router();
    lh_arena *a = lh_arena_new(0);
    lh_route_match m;
    /* %2F inside a segment is data, not a separator */
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/a%2Fb", a, &m), LH_OK);
    assert_string_equal(m.params[0].value, "a/b");
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/caf%C3%A9+x", a, &m), LH_OK);
    assert_string_equal(m.params[0].value, "caf\xC3\xA9+x"); /* '+' is literal in paths */
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/bad%zz", a, &m), LH_EINVAL);
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/nul%00", a, &m), LH_EINVAL);
    assert_int_equal(lh_router_match(r, "GET", "/v1/datasets/short%4", a, &m), LH_EINVAL);

    char *out;
    assert_true(lh_url_decode(a, "a+b%20c", 7, true, &out));
    assert_string_equal(out, "a b c");
    assert_false(lh_url_decode(a, "%", 1, true, &out));
    assert_false(lh_url_decode(a, "%0", 2, true, &out));
    lh_arena_free(a);
    lh_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_params),
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_decoding),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
