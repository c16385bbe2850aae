//! A bounded YAML tree for netplan files, built from yaml-rust2's event parser.
//!
//! yaml-rust2's own loader recurses once per nesting level and copies a node for every
//! alias (a "billion laughs" file grows exponentially); here the events are folded into a
//! tree with an explicit stack, nesting is capped at [`MAX_DEPTH`], nodes at
//! [`MAX_NODES`], and aliases become null (netplan files have no use for them).

use yaml_rust2::parser::{Event, Parser};

pub const MAX_DEPTH: usize = 64;
pub const MAX_NODES: usize = 200_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Scalar(String),
    Seq(Vec<Node>),
    /// Keys in file order; a scalar key only (netplan has no other).
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            // The last of duplicate keys wins, as in netplan.
            Node::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(e) => e,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match self {
            Node::Seq(s) => s,
            _ => &[],
        }
    }

    /// A YAML 1.1 boolean, as netplan reads it (`true`, `yes`, `on`, …).
    pub fn bool(&self) -> Option<bool> {
        match self.str()?.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "y" => Some(true),
            "false" | "no" | "off" | "n" => Some(false),
            _ => None,
        }
    }
}

enum Frame {
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>, Option<String>),
}

/// The first document of `text`; an error names the line.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut nodes = 0usize;
    loop {
        let (event, mark) = parser
            .next_token()
            .map_err(|e| format!("line {}: {}", e.marker().line(), e.info()))?;
        let line = mark.line();
        let done = match event {
            Event::StreamEnd | Event::DocumentEnd => return Ok(Node::Null),
            Event::Nothing | Event::StreamStart | Event::DocumentStart => continue,
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("line {line}: nested more than {MAX_DEPTH} deep"));
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq(Vec::new()),
                    _ => Frame::Map(Vec::new(), None),
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items)) => Node::Seq(items),
                Some(Frame::Map(entries, _)) => Node::Map(entries),
                None => return Err(format!("line {line}: unbalanced end")),
            },
            Event::Scalar(value, ..) => {
                let v = value;
                if v == "~" || v == "null" || v.is_empty() {
                    Node::Null
                } else {
                    Node::Scalar(v)
                }
            }
            Event::Alias(_) => Node::Null,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(format!("line {line}: more than {MAX_NODES} nodes"));
        }
        match stack.last_mut() {
            None => return Ok(done),
            Some(Frame::Seq(items)) => items.push(done),
            Some(Frame::Map(entries, key)) => match key.take() {
                None => {
                    // A key: scalars keep their text; a complex key is kept as "".
                    *key = Some(match done {
                        Node::Scalar(s) => s,
                        _ => String::new(),
                    });
                }
                Some(k) => entries.push((k, done)),
            },
        }
    }
}
