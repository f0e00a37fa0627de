package jsontext

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// Problem words a JSON decoding error for a person, without Go's type
// names: what was found where, and what was expected there.
func Problem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		where := "the top level"
		if te.Field != "" {
			where = "\"" + te.Field + "\""
		}
		return fmt.Sprintf("%s: expected %s, found %s (at byte %d)", where, kindWords(te.Type), article(te.Value), te.Offset)
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON at byte %d: %s", se.Offset, se.Error())
	}
	return err.Error()
}

// kindWords says what JSON a Go type is read from.
func kindWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a string"
		}
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return kindWords(t.Elem())
	}
	return "a number"
}

func article(v string) string {
	switch v {
	case "array", "object":
		return "an " + v
	}
	return "a " + v
}
