/*
 * xlsx_write.c — writes a real .xlsx with libxlsxwriter (an independent
 * writer) from a JSON description, for the spreadsheet tests:
 *
 *   xlsx_write OUT.xlsx SPEC.json
 *   SPEC: {"constant_memory": bool, "sheets": [{"name": "Sales", "rows": [[cell, ...], ...]}]}
 *   cell: null | "text" | number | true | false
 *         | {"date": "2024-01-05"} | {"datetime": "2024-01-05 10:30:00"} | {"time": "10:30:00"}
 *         | {"number": 0.5, "format": "0.00%"}   (a number with a non-date style)
 *
 * constant_memory makes libxlsxwriter write inline strings instead of the
 * shared-strings table, so both paths of the reader are exercised.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

static lxw_datetime parse_when(const char *s)
{
    lxw_datetime t = {0};
    if (strchr(s, '-')) sscanf(s, "%d-%d-%d %d:%d:%lf", &t.year, &t.month, &t.day, &t.hour, &t.min, &t.sec);
    else sscanf(s, "%d:%d:%lf", &t.hour, &t.min, &t.sec);
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: xlsx_write OUT.xlsx SPEC.json\n");
        return 2;
    }
    json_error_t jerr;
    json_t *spec = json_load_file(argv[2], 0, &jerr);
    if (!spec) {
        fprintf(stderr, "%s: %s\n", argv[2], jerr.text);
        return 2;
    }
    lxw_workbook_options options = {.constant_memory = json_is_true(json_object_get(spec, "constant_memory"))};
    lxw_workbook *wb = workbook_new_opt(argv[1], &options);
    lxw_format *date = workbook_add_format(wb), *datetime = workbook_add_format(wb), *time = workbook_add_format(wb);
    format_set_num_format(date, "yyyy-mm-dd");
    format_set_num_format(datetime, "yyyy-mm-dd hh:mm:ss");
    format_set_num_format(time, "hh:mm:ss");
    size_t i, r, k;
    json_t *sheet, *row, *cell;
    json_array_foreach(json_object_get(spec, "sheets"), i, sheet) {
        lxw_worksheet *ws = workbook_add_worksheet(wb, json_string_value(json_object_get(sheet, "name")));
        json_array_foreach(json_object_get(sheet, "rows"), r, row) {
            json_array_foreach(row, k, cell) {
                lxw_row_t y = (lxw_row_t)r;
                lxw_col_t x = (lxw_col_t)k;
                if (json_is_string(cell)) worksheet_write_string(ws, y, x, json_string_value(cell), NULL);
                else if (json_is_number(cell)) worksheet_write_number(ws, y, x, json_number_value(cell), NULL);
                else if (json_is_boolean(cell)) worksheet_write_boolean(ws, y, x, json_is_true(cell), NULL);
                else if (json_is_object(cell)) {
                    const char *d = json_string_value(json_object_get(cell, "date"));
                    const char *dt = json_string_value(json_object_get(cell, "datetime"));
                    const char *t = json_string_value(json_object_get(cell, "time"));
                    if (d || dt || t) {
                        lxw_datetime when = parse_when(d ? d : dt ? dt : t);
                        worksheet_write_datetime(ws, y, x, &when, d ? date : dt ? datetime : time);
                    } else {
                        lxw_format *f = workbook_add_format(wb);
                        format_set_num_format(f, json_string_value(json_object_get(cell, "format")));
                        worksheet_write_number(ws, y, x, json_number_value(json_object_get(cell, "number")), f);
                    }
                }
            }
        }
    }
    lxw_error e = workbook_close(wb);
    json_decref(spec);
    if (e != LXW_NO_ERROR) {
        fprintf(stderr, "xlsx_write: %s\n", lxw_strerror(e));
        return 1;
    }
    return 0;
}
