// Package syntax is the front end of the duplex schema language: a
// hand-written lexer, a recursive-descent parser that builds a syntax tree
// with a position on every node and every comment kept, and Print, the
// canonical formatter behind `duplex fmt`.
//
// Parse never stops at the first mistake: it reports one error per line, as
// file:line:col: message, resynchronises at the next declaration keyword
// (or the next line inside a braced or parenthesised list) and goes on, so a
// run shows every syntax error of a file. The tree it returns is
// best-effort when there are errors; only an error-free tree is meant for
// Print or for schema.Check.
//
// Comments are attached to what they stand next to, so Print can put every
// one of them back in place:
//
//   - Doc: the comment lines directly above a declaration, field or enum
//     value (no blank line between). Comment lines standing directly above
//     the item after its annotations count as its doc too, when there are
//     none above the annotations.
//   - Comment: a comment at the end of the item's last line.
//   - Floating: comment groups above the doc that are separated from it by
//     a blank line; Tail: comment groups after the last item of a file or a
//     list.
//   - OpenComment: a comment after "{" or "(" on the same line.
//   - AnnotationComments: comments among an item's annotation lines.
//
// The package imports only the standard library and knows nothing about
// what names mean; package schema checks the tree.
package syntax
